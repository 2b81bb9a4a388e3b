# bash completion for meshrun(1)                            -*- shell-script -*-
# Installed as <prefix>/share/bash-completion/completions/meshrun. Works with
# or without the bash-completion package; with it, the command after `--`
# gets its own completion and -H without a hostfile offers known hosts.

_meshrun_options='-n --np -N --nodes --per-host -x --env --cwd --check --dry-run
  --launcher -H --host --hostfile --ssh-command --agent-path --bind --tree-threshold --no-tls
  -l --tag-output --output-filename --raw --stdin
  --timeout --grace --heartbeat-timeout --start-timeout
  -v --verbose -q --quiet -V --version -h --help'

# Options that take a value in the next word.
_meshrun_takes_value() {
    case $1 in
        -n | --np | -N | --nodes | --per-host | -x | --env | --cwd | --launcher | -H | --host | \
            --hostfile | --ssh-command | --agent-path | --bind | --tree-threshold | \
            --output-filename | --stdin | --timeout | --grace | --heartbeat-timeout | \
            --start-timeout)
            return 0
            ;;
    esac
    return 1
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
    local i word command_at=0 hostfile=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
            --)
                command_at=$((i + 1))
                break
                ;;
            --hostfile=*) hostfile=${word#*=} ;;
            --hostfile)
                [[ ${COMP_WORDS[i + 1]-} == = ]] && ((i++))
                ((i + 1 < COMP_CWORD)) && hostfile=${COMP_WORDS[i + 1]}
                ((i++))
                ;;
            =) ;;
            -*)
                if _meshrun_takes_value "$word"; then
                    [[ ${COMP_WORDS[i + 1]-} == = ]] && ((i++))
                    ((i++))
                fi
                ;;
            *.toml) ;;
            *)
                command_at=$i
                break
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

    case $prev in
        --launcher)
            COMPREPLY=($(compgen -W 'auto local ssh slurm' -- "$cur"))
            return 0
            ;;
        --stdin)
            COMPREPLY=($(compgen -W 'rank0 all none' -- "$cur"))
            return 0
            ;;
        --hostfile | --output-filename)
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
        -x | --env)
            COMPREPLY=($(compgen -e -- "$cur"))
            return 0
            ;;
        -H | --host)
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
        -n | --np | -N | --nodes | --per-host | --tree-threshold | --bind | \
            --timeout | --grace | --heartbeat-timeout | --start-timeout)
            return 0 # a number, a duration or an address: nothing to offer
            ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$_meshrun_options --" -- "$cur"))
        return 0
    fi
    # The job spec: *.toml files, and directories to reach them.
    compopt -o filenames 2>/dev/null
    _meshrun_add compgen -f -X '!*.toml' -- "$cur"
    _meshrun_add compgen -d -- "$cur"
    return 0
}
complete -F _meshrun meshrun
