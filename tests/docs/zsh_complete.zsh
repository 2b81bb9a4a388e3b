# zsh -f zsh_complete.zsh FILE LINE: prints, one a line, the candidates zsh's
# completion system offers for LINE with the completion FILE sourced. Runs an
# interactive zsh on a pseudo-terminal, set up by its .zshrc so nothing is
# typed before its line editor runs, and records what reaches compadd.
zmodload zsh/zpty || exit 1
file=$1 line=$2
dir=$(mktemp -d "${TMPDIR:-/tmp}/meshrun-zsh.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
cat >"$dir/.zshrc" <<ZSHRC
PROMPT='<prompt>' RPROMPT= LISTMAX=100000
unsetopt zle_bracketed_paste 2>/dev/null
autoload -U compinit; compinit -u -D
source ${(q)file}
compadd() {
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "\$@"; return; fi
  local -a hits
  builtin compadd -A hits "\$@"
  local ret=\$? h
  for h in \$hits; do print -r -- "<hit>\$h"; done
  return ret
}
zstyle ':completion:*' list-prompt ''
zstyle ':completion:*' select-prompt ''
bindkey '^I' complete-word
ZSHRC
export ZDOTDIR=$dir
zpty z zsh -d -i
local out
# The first prompt: the line editor is reading.
zpty -r z out '*<prompt>*' || exit 1
zpty -w -n z "$line"$'\t'
# Sentinel split in the typed text, so its echo never matches.
zpty -w z $'\C-u'"print -r -- '<do''ne>'"
while zpty -r z out; do
  [[ $out == *'<done>'* ]] && break
  [[ $out == *'<hit>'* ]] && print -r -- "${${out##*<hit>}%%$'\r'*}"
done
zpty -d z
