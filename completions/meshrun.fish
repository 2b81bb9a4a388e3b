# fish completion for meshrun(1). Installed as
# <prefix>/share/fish/vendor_completions.d/meshrun.fish.

# Prints the words of the command meshrun will run, if the line has reached
# it: everything after "--", or from the first word that is neither an
# option, an option's value nor the job spec. Fails before that.
function __meshrun_command
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l takes_value -n --np -np -N --nodes --per-host --npernode -ppn --map-by --bind-to -x \
        --env --cwd --launcher -H --host -host --hostfile -hostfile --ssh-command --agent-path \
        --bind --tree-threshold --output-filename --stdin --timeout --grace --signal-forward \
        --heartbeat-timeout --start-timeout
    set -l spec_seen 0
    while set -q tokens[1]
        set -l token $tokens[1]
        set -e tokens[1]
        if test "$token" = --
            set -q tokens[1]; and printf '%s\n' $tokens
            return 0
        else if contains -- $token --genv -genv
            set -e tokens[1..2]
        else if contains -- $token $takes_value
            set -e tokens[1]
        else if string match -qr -- '^-' $token
            continue
        else if test $spec_seen = 0; and begin
                string match -qr -- '\.toml$' $token; or begin
                    test -f $token; and not test -x $token
                end
            end
            # The job spec (a .toml, or any TOML file that is not a program).
            set spec_seen 1
            continue
        else
            printf '%s\n' $token $tokens
            return 0
        end
    end
    return 1
end

# The job spec or the command: *.toml files first, then directories, other
# files (a spec may have any name) and, once a word is begun, programs on
# PATH; never shell builtins or functions.
function __meshrun_specs
    set -l prefix (commandline -ct)
    set -l specs $prefix*.toml
    set -l dirs $prefix*/
    printf '%s\tJob spec\n' $specs
    printf '%s\tDirectory\n' $dirs
    for f in $prefix*
        test -f $f; and not contains -- $f $specs; and printf '%s\tFile\n' $f
    end
    if test -n "$prefix"; and not string match -q -- '*/*' $prefix
        for dir in $PATH
            for f in $dir/$prefix*
                test -f $f -a -x $f; and printf '%s\tCommand\n' (string replace -r -- '.*/' '' $f)
            end
        end | sort -u
    end
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
complete -c meshrun -n $opt -l per-host -l npernode -o ppn -x -d 'Ranks per host (with -n: at most)'
complete -c meshrun -n $opt -o np -x -d 'Total number of ranks'
complete -c meshrun -n $opt -l map-by -x -a 'slot hwthread core socket' -d 'Place local ranks by'
complete -c meshrun -n $opt -l bind-to -x -a 'none hwthread core socket' -d 'Bind ranks to'
complete -c meshrun -n $opt -s x -l env -x -a '(set -xn)' -d 'Pass VAR or set VAR=VALUE in every rank'
complete -c meshrun -n $opt -l genv -o genv -x -a '(set -xn)' -d 'Set NAME to VALUE in every rank'
complete -c meshrun -n $opt -l envall -o envall -d "Pass meshrun's whole environment"
complete -c meshrun -n $opt -l cwd -x -a '(__fish_complete_directories)' -d 'Working directory of every rank'
complete -c meshrun -n $opt -l check -d 'Check the job spec and flags, start nothing'
complete -c meshrun -n $opt -l dry-run -d 'Print the launcher and rank map, start nothing'

# Hosts
complete -c meshrun -n $opt -l launcher -x -a 'auto local ssh slurm' -d 'How hosts are started'
complete -c meshrun -n $opt -s H -l host -o host -x -a '(__meshrun_hosts)' -d 'Hosts: a,b or node[01-04]'
complete -c meshrun -n $opt -l hostfile -o hostfile -r -F -d 'File of hosts'
complete -c meshrun -n $opt -l oversubscribe -d 'Accepted: slots never limit a host'
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
complete -c meshrun -n $opt -l grace -x -d 'Time from the first signal to SIGKILL'
complete -c meshrun -n $opt -l signal-forward -x -a 'int term hup quit' -d 'What ranks get first on Ctrl-C'
complete -c meshrun -n $opt -l heartbeat-timeout -x -d 'Silence after which a host is lost'
complete -c meshrun -n $opt -l start-timeout -x -d 'Time a host may take to start'

# Diagnostics
complete -c meshrun -n $opt -s v -l verbose -d 'More detail (-vv: messages too)'
complete -c meshrun -n $opt -s q -l quiet -d 'Only errors'
complete -c meshrun -n $opt -s V -l version -d 'Print the version and exit'
complete -c meshrun -n $opt -s h -l help -d 'Print help and exit'

# The job spec, then the command and its arguments.
complete -c meshrun -n $opt -k -a '(__meshrun_specs)'
complete -c meshrun -n __meshrun_in_command -a '(__meshrun_complete_command)'
