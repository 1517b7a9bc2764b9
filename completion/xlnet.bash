# bash completion for xlnet(8). Install as
# /usr/share/bash-completion/completions/xlnet (or source it).
# Keep in step with plugin/src/cli/verbs/ (plugin/test/cli/docs.test.ts checks
# that every verb and flag is here).

_xlnet_vifs()
{
    local d
    for d in /sys/class/net/vif*; do
        [ -e "$d" ] && printf '%s\n' "${d##*/}"
    done
}

_xlnet_bridges()
{
    local d
    for d in /sys/class/net/*/bridge; do
        [ -e "$d" ] && { d=${d%/bridge}; printf '%s\n' "${d##*/}"; }
    done
}

_xlnet_profiles()
{
    local conf=${XLNET_CONF:-/etc/xen/xlnet.conf}
    printf '%s\n' default satellite transcontinental lossy
    [ -r "$conf" ] && sed -n 's/^[[:space:]]*\[[[:space:]]*profile[[:space:]][[:space:]]*\([A-Za-z0-9_-]*\)[[:space:]]*\].*/\1/p' "$conf"
}

_xlnet_domains()
{
    local f
    printf '%s\n' none
    for f in /etc/xen/*.cfg; do
        [ -e "$f" ] && { f=${f##*/}; printf '%s\n' "${f%.cfg}"; }
    done
}

_xlnet_files()
{
    local IFS=$'\n'
    COMPREPLY=( $(compgen -f -- "$1") )
    compopt -o filenames 2>/dev/null
}

_xlnet()
{
    local cur prev verb i opts words
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local verbs="status flows top attach detach set reload check config setup hotplug version help"

    # The verb is the first word that is neither a flag nor a flag's value.
    verb=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            --socket|--config) ((i++)) ;;
            -*) ;;
            *) verb=${COMP_WORDS[i]}; break ;;
        esac
    done

    case $prev in
        --socket|--config|--root|--xen-dir|--xl-conf)
            _xlnet_files "$cur"; return ;;
        --profile|-p)
            COMPREPLY=( $(compgen -W "$(_xlnet_profiles)" -- "$cur") ); return ;;
        --mode)
            COMPREPLY=( $(compgen -W "bridge route" -- "$cur") ); return ;;
        --method)
            COMPREPLY=( $(compgen -W "hook script xl" -- "$cur") ); return ;;
        --xl)
            COMPREPLY=( $(compgen -W "patched stock" -- "$cur") ); return ;;
        --bridge)
            COMPREPLY=( $(compgen -W "$(_xlnet_bridges)" -- "$cur") ); return ;;
        --domain)
            [ "$verb" = setup ] && COMPREPLY=( $(compgen -W "$(_xlnet_domains)" -- "$cur") ); return ;;
        --option|-o)
            COMPREPLY=( $(compgen -S = -W "engine buffer idle_timeout connect_timeout keepalive keepalive_idle keepalive_interval keepalive_count guest_cc guest_sndbuf guest_rcvbuf guest_nodelay wan_cc wan_sndbuf wan_rcvbuf wan_nodelay wan_notsent_lowat wan_initcwnd exclude_ports exclude_cidrs" -- "$cur") )
            compopt -o nospace 2>/dev/null; return ;;
        --interval|-i)
            return ;;
    esac

    if [ -z "$verb" ]; then
        COMPREPLY=( $(compgen -W "$verbs --help --version --socket --config" -- "$cur") )
        return
    fi

    words=
    case $verb in
        status|reload|version) opts="--json --socket" ;;
        flows) opts="--json --socket"; words=$(_xlnet_vifs) ;;
        top) opts="--interval --json --socket" ;;
        attach) opts="--profile --option --domain --required --json --socket"; words=$(_xlnet_vifs) ;;
        detach) opts="--drain --reset --json --socket"; words=$(_xlnet_vifs) ;;
        set) opts="--profile --option --json --socket"; words=$(_xlnet_vifs) ;;
        check)
            opts="--xl --xl-conf --json"
            if [[ $cur != -* ]]; then _xlnet_files "$cur"; return; fi ;;
        config)
            opts="--json"
            if [ "$prev" = config ]; then words=check
            elif [[ $cur != -* ]]; then _xlnet_files "$cur"; return; fi ;;
        setup) opts="--yes --dry-run --uninstall --root --xen-dir --mode --bridge --profile --domain --method --rewrite-configs --keep-configs --no-start" ;;
        hotplug) opts="--socket"; [ "$prev" = hotplug ] && words="online offline" ;;
        help) [ "$prev" = help ] && words=$verbs; opts= ;;
        *) return ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=( $(compgen -W "$opts --config --help" -- "$cur") )
    else
        COMPREPLY=( $(compgen -W "$words" -- "$cur") )
    fi
}
complete -F _xlnet xlnet
