# fish completion for meshrun(1). Installed as
# <prefix>/share/fish/vendor_completions.d/meshrun.fish.

# Prints the words of the command meshrun will run, if the line has reached
# it: everything after "--", or from the first word that is neither an
# option, an option's value nor the job spec. Fails before that.
function __meshrun_command
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l takes_value -n --np -N --nodes --per-host -x --env --cwd --launcher -H --host \
        --hostfile --ssh-command --agent-path --bind --tree-threshold --output-filename --stdin \
        --timeout --grace --heartbeat-timeout --start-timeout
    while set -q tokens[1]
        set -l token $tokens[1]
        set -e tokens[1]
        if test "$token" = --
            set -q tokens[1]; and printf '%s\n' $tokens
            return 0
        else if contains -- $token $takes_value
            set -e tokens[1]
        else if string match -qr -- '^-|\.toml$' $token
            continue
        else
            printf '%s\n' $token $tokens
            return 0
        end
    end
    return 1
end

# *.toml files, and directories to find them in.
function __meshrun_specs
    set -l prefix (commandline -ct)
    set -l found $prefix*.toml $prefix*/
    printf '%s\n' $found
end

function __meshrun_in_command
    __meshrun_command >/dev/null
end

# What the command's own completion offers, or command names for its first word.
function __meshrun_complete_command
    set -l words (__meshrun_command)
    # `string escape` with no arguments would read stdin.
    set -q words[1]; and set words (string escape -- $words)
    complete -C (string join ' ' -- $words (commandline -ct))
end

# Host names from the --hostfile on the line, else the hosts fish knows.
function __meshrun_hosts
    set -l tokens (commandline -opc)
    set -l file
    for i in (seq (count $tokens))
        if test "$tokens[$i]" = --hostfile; and test $i -lt (count $tokens)
            set file $tokens[(math $i + 1)]
        else if string match -q -- '--hostfile=*' $tokens[$i]
            set file (string replace -- '--hostfile=' '' $tokens[$i])
        end
    end
    # A comma list: complete its last item, keep the ones before.
    set -l before (string replace -r -- '[^,]*$' '' (commandline -ct))
    set -l hosts
    if test -n "$file"; and test -r "$file"
        set hosts (string replace -r -- '#.*' '' <$file | string trim | string match -rv -- '^$' |
            string replace -r -- '\s.*' '' | string replace -r -- '^[^@]*@' '' |
            string replace -r -- ':.*' '')
    else
        set hosts (__fish_print_hostnames)
    end
    printf '%s\n' $before$hosts
end

complete -c meshrun -f
set -l opt 'not __meshrun_in_command'

# Job
complete -c meshrun -n $opt -s n -l np -x -d 'Total number of ranks'
complete -c meshrun -n $opt -s N -l nodes -x -d 'Number of hosts'
complete -c meshrun -n $opt -l per-host -x -d 'Ranks per host'
complete -c meshrun -n $opt -s x -l env -x -a '(set -xn)' -d 'Pass VAR or set VAR=VALUE in every rank'
complete -c meshrun -n $opt -l cwd -x -a '(__fish_complete_directories)' -d 'Working directory of every rank'
complete -c meshrun -n $opt -l check -d 'Check the job spec and flags, start nothing'
complete -c meshrun -n $opt -l dry-run -d 'Print the launcher and rank map, start nothing'

# Hosts
complete -c meshrun -n $opt -l launcher -x -a 'auto local ssh slurm' -d 'How hosts are started'
complete -c meshrun -n $opt -s H -l host -x -a '(__meshrun_hosts)' -d 'Hosts: a,b or node[01-04]'
complete -c meshrun -n $opt -l hostfile -r -F -d 'File of hosts'
complete -c meshrun -n $opt -l ssh-command -x -a '(__fish_complete_command)' -d 'ssh client and its options'
complete -c meshrun -n $opt -l agent-path -r -F -d "meshrun-agent's path on the hosts"
complete -c meshrun -n $opt -l bind -x -d 'Address the agents dial back to'
complete -c meshrun -n $opt -l tree-threshold -x -d 'Launch as a tree above N hosts'
complete -c meshrun -n $opt -l no-tls -d 'Plain TCP between hosts'

# Output
complete -c meshrun -n $opt -s l -l tag-output -d 'Prefix every output line with [rank]'
complete -c meshrun -n $opt -l output-filename -r -F -d "Write each rank's output to a file"
complete -c meshrun -n $opt -l raw -d 'Pass output through unbuffered'
complete -c meshrun -n $opt -l stdin -x -a 'rank0 all none' -d "Who reads meshrun's stdin"

# Signals and time
complete -c meshrun -n $opt -l timeout -x -d 'End the job after DURATION'
complete -c meshrun -n $opt -l grace -x -d 'Time from SIGTERM to SIGKILL'
complete -c meshrun -n $opt -l heartbeat-timeout -x -d 'Silence after which a host is lost'
complete -c meshrun -n $opt -l start-timeout -x -d 'Time a host may take to start'

# Diagnostics
complete -c meshrun -n $opt -s v -l verbose -d 'More detail (-vv: messages too)'
complete -c meshrun -n $opt -s q -l quiet -d 'Only errors'
complete -c meshrun -n $opt -s V -l version -d 'Print the version and exit'
complete -c meshrun -n $opt -s h -l help -d 'Print help and exit'

# The job spec, then the command and its arguments.
complete -c meshrun -n $opt -a '(__meshrun_specs)' -d 'Job spec'
complete -c meshrun -n __meshrun_in_command -a '(__meshrun_complete_command)'
