#!/bin/sh
# Container entry point. `ARGS...` runs `infocam-train ARGS...`; a first word of infocam-train,
# infocam-eval, infocam-report or wandb runs that command instead, and `wandb-sync` uploads every
# offline wandb run on the outputs volume (inside the container, where their staged files are).
#
# A training or evaluation run that names no output directory gets one on the outputs volume,
# fixed here once: Lightning starts the extra DDP ranks by re-running this very command line, so
# every rank writes into the same directory. INFOCAM_RUN_DIR chooses it; a multirun gets a
# sweep directory instead.
set -eu

case "${1:-}" in
    infocam-train | infocam-eval | infocam-report | wandb | wandb-sync) command="$1"; shift ;;
    *) command=infocam-train ;;
esac

outputs="${INFOCAM_LOGS:-/outputs}"
if [ ! -d "$outputs" ] || [ ! -w "$outputs" ]; then
    echo "infocam: error: outputs directory $outputs is not writable (mount a volume there, or set INFOCAM_LOGS)" >&2
    exit 1
fi

if [ "$command" = infocam-train ] || [ "$command" = infocam-eval ]; then
    multirun=no
    named=no
    for arg in "$@"; do
        case "$arg" in
            -m | --multirun | hydra.mode=MULTIRUN | sweep=* | hparams_search=*) multirun=yes ;;
            hydra.run.dir=* | hydra.sweep.dir=* | --help | -h | --hydra-help | --info) named=yes ;;
        esac
    done
    if [ "$named" = no ]; then
        stamp="$(date -u +%Y-%m-%d_%H-%M-%S)"
        if [ "$multirun" = yes ]; then
            extra="hydra.sweep.dir=${INFOCAM_RUN_DIR:-$outputs/multiruns/$stamp}"
        else
            extra="hydra.run.dir=${INFOCAM_RUN_DIR:-$outputs/runs/$stamp}"
        fi
        # Hydra's parser wants the overrides together: put ours before the first one, after any
        # leading options (and their values), by rotating the argument list once
        count=$#
        inserted=no
        option_value=no
        while [ "$count" -gt 0 ]; do
            arg="$1"
            shift
            if [ "$inserted" = no ] && [ "$option_value" = no ] && [ "${arg#-}" = "$arg" ]; then
                set -- "$@" "$extra"
                inserted=yes
            fi
            set -- "$@" "$arg"
            case "$arg" in
                --cfg | -c | --package | -p | --config-path | -cp | --config-name | -cn | --config-dir | -cd | --experimental-rerun) option_value=yes ;;
                *) option_value=no ;;
            esac
            count=$((count - 1))
        done
        [ "$inserted" = yes ] || set -- "$@" "$extra"
    fi
fi

if [ "$command" = wandb-sync ]; then
    find "$outputs" -type d -name 'offline-run-*' -path '*/wandb/*' -exec wandb sync "$@" {} +
    exit 0
fi

exec "$command" "$@"
