# bash completion for meshrun(1)                            -*- shell-script -*-
# Installed as <prefix>/share/bash-completion/completions/meshrun. Works with
# or without the bash-completion package; with it, the command after `--`
# gets its own completion and -H without a hostfile offers known hosts.

_meshrun_options='-n --np -N --nodes --per-host --npernode --map-by --bind-to -x --env --genv
  --envall --cwd --check --dry-run
  --launcher -H --host --hostfile --oversubscribe --ssh-command --agent-path --bind
  --tree-threshold --no-tls
  -l --tag-output --output-filename --raw --stdin
  --timeout --grace --signal-forward --heartbeat-timeout --start-timeout
  -v --verbose -q --quiet -V --version -h --help
  -np -ppn -npernode -genv -envall -genvall -host -hosts -hostfile -map-by -bind-to -oversubscribe'

# How many words of value an option takes (0: none); -genv NAME VALUE takes two.
_meshrun_values() {
    case $1 in
        --genv | -genv) echo 2 ;;
        -n | --np | -np | -N | --nodes | --per-host | --npernode | -ppn | -npernode | \
            --map-by | -map-by | --bind-to | -bind-to | -x | --env | --cwd | --launcher | \
            -H | --host | -host | -hosts | --hostfile | -hostfile | --ssh-command | --agent-path | \
            --bind | --tree-threshold | --output-filename | --stdin | --timeout | --grace | \
            --signal-forward | --heartbeat-timeout | --start-timeout)
            echo 1
            ;;
        *) echo 0 ;;
    esac
}

# Appends what a compgen call prints to COMPREPLY, a line a word, so file
# names with blanks stay whole.
_meshrun_add() {
    local line
    while IFS= read -r line; do COMPREPLY+=("$line"); done < <("$@")
}

# Host names in a hostfile: "host slots=N", "host:N", "user@host", # comments.
_meshrun_hostfile_hosts() {
    [[ -r $1 ]] || return 0
    awk '{ sub(/#.*/, "") } NF { h = $1; sub(/^[^@]*@/, "", h); sub(/:.*/, "", h); print h }' "$1"
}

_meshrun() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    # bash splits "--launcher=ssh" at the '=': put the option back in prev.
    if [[ $cur == = ]]; then
        cur=""
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    elif [[ $cur == --*=* ]]; then
        prev=${cur%%=*}
        cur=${cur#*=}
    fi

    # Where the command starts: after "--", or at the first word that is
    # neither an option, an option's value, nor the job spec. Also find the
    # hostfile for -H.
    COMPREPLY=()
    local i word command_at=0 hostfile="" spec_seen=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            --)
                command_at=$((i + 1))
                break
                ;;
            --hostfile=*) hostfile=${word#*=} ;;
            --hostfile | -hostfile)
                [[ ${COMP_WORDS[i + 1]-} == = ]] && ((i++))
                ((i + 1 < COMP_CWORD)) && hostfile=${COMP_WORDS[i + 1]}
                ((i++))
                ;;
            =) ;;
            -*)
                local n
                n=$(_meshrun_values "$word")
                if ((n > 0)); then
                    [[ ${COMP_WORDS[i + 1]-} == = ]] && ((i++))
                    ((i += n))
                fi
                ;;
            *)
                # The job spec (a .toml, or any TOML file that is not a
                # program) is followed by the command; anything else is it.
                if [[ $word == *.toml || (-f $word && ! -x $word) ]] && ((!spec_seen)); then
                    spec_seen=1
                else
                    command_at=$i
                    break
                fi
                ;;
        esac
    done
    hostfile=${hostfile/#\~/$HOME}

    if ((command_at > 0)); then
        COMPREPLY=()
        if declare -F _command_offset >/dev/null; then
            _command_offset "$command_at"
        elif ((COMP_CWORD == command_at)) && [[ $cur != */* ]]; then
            _meshrun_add compgen -c -- "$cur"
        else
            compopt -o filenames 2>/dev/null
            _meshrun_add compgen -f -- "$cur"
        fi
        return 0
    fi

    # The second word of -genv NAME VALUE: anything.
    if ((COMP_CWORD > 1)); then
        case ${COMP_WORDS[COMP_CWORD - 2]} in --genv | -genv) return 0 ;; esac
    fi
    case $prev in
        --map-by | -map-by)
            COMPREPLY=($(compgen -W 'slot hwthread core socket' -- "$cur"))
            return 0
            ;;
        --bind-to | -bind-to)
            COMPREPLY=($(compgen -W 'none hwthread core socket' -- "$cur"))
            return 0
            ;;
        --signal-forward)
            COMPREPLY=($(compgen -W 'int term hup quit' -- "$cur"))
            return 0
            ;;
        --launcher)
            COMPREPLY=($(compgen -W 'auto local ssh slurm' -- "$cur"))
            return 0
            ;;
        --stdin)
            COMPREPLY=($(compgen -W 'rank0 all none' -- "$cur"))
            return 0
            ;;
        --hostfile | -hostfile | --output-filename)
            compopt -o filenames 2>/dev/null
            _meshrun_add compgen -f -- "$cur"
            return 0
            ;;
        --cwd)
            compopt -o filenames 2>/dev/null
            _meshrun_add compgen -d -- "$cur"
            return 0
            ;;
        --agent-path | --ssh-command)
            compopt -o filenames 2>/dev/null
            _meshrun_add compgen -c -- "$cur"
            _meshrun_add compgen -f -- "$cur"
            return 0
            ;;
        -x | --env | --genv | -genv)
            COMPREPLY=($(compgen -e -- "$cur"))
            return 0
            ;;
        -H | --host | -host | -hosts)
            # A comma list: complete its last item, keep the ones before.
            local before="" last=$cur
            if [[ $cur == *,* ]]; then
                before=${cur%,*},
                last=${cur##*,}
            fi
            local hosts
            if [[ -n $hostfile ]]; then
                hosts=$(_meshrun_hostfile_hosts "$hostfile")
                COMPREPLY=($(compgen -P "$before" -W "$hosts" -- "$last"))
            elif declare -F _known_hosts_real >/dev/null; then
                _known_hosts_real -- "$last"
                local j
                for j in "${!COMPREPLY[@]}"; do COMPREPLY[j]=$before${COMPREPLY[j]}; done
            fi
            return 0
            ;;
        -n | --np | -np | -N | --nodes | --per-host | --npernode | -ppn | -npernode | \
            --tree-threshold | --bind | --timeout | --grace | --heartbeat-timeout | --start-timeout)
            return 0 # a number, a duration or an address: nothing to offer
            ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_meshrun_options --" -- "$cur"))
        return 0
    fi
    # The job spec or the command: *.toml files first, then directories to
    # reach them, other files (a spec may have any name), and, once a word is
    # begun, the programs on PATH (never shell builtins or functions).
    compopt -o filenames -o nosort 2>/dev/null
    _meshrun_add compgen -f -X '!*.toml' -- "$cur"
    _meshrun_add compgen -d -- "$cur"
    local f
    while IFS= read -r f; do
        [[ -d $f || $f == *.toml ]] || COMPREPLY+=("$f")
    done < <(compgen -f -- "$cur")
    if [[ -n $cur && $cur != */* ]]; then
        while IFS= read -r f; do
            [[ -n $(type -P -- "$f") ]] && COMPREPLY+=("$f")
        done < <(compgen -c -- "$cur" | sort -u)
    fi
    return 0
}
complete -F _meshrun meshrun
