#!/bin/sh
# Container entry point. `ARGS...` runs `infocam-train ARGS...`; a first word of infocam-train,
# infocam-eval, infocam-report or wandb runs that command instead, and `wandb-sync` uploads every
# offline wandb run on the outputs volume (inside the container, where their staged files are).
#
# A training or evaluation run that names no output directory gets one on the outputs volume,
# fixed here once: Lightning starts the extra DDP ranks by re-running this very command line, so
# every rank writes into the same directory. It is unique (the start's second and a random
# suffix); INFOCAM_RUN_DIR chooses it instead; a multirun gets a sweep directory.
# A single training run is checked by `infocam-doctor` with the same arguments first (GPUs,
# NCCL, dataset, weights, disk, wandb; its lines go to stderr); INFOCAM_DOCTOR=0 skips it.
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
        if [ "$multirun" = yes ]; then key=hydra.sweep.dir; kind=multiruns; else key=hydra.run.dir; kind=runs; fi
        if [ -n "${INFOCAM_RUN_DIR:-}" ]; then
            dir="$INFOCAM_RUN_DIR"
        else
            # the second plus a random suffix, created here: two starts in the same second (even in
            # two containers, where both are pid 1) get directories of their own
            mkdir -p "$outputs/$kind"
            dir="$(mktemp -d "$outputs/$kind/$(date -u +%Y-%m-%d_%H-%M-%S)_XXXXXX")"
        fi
        # quoted for Hydra's parser, so a path with , = [ ] or spaces stays one value (a ' is escaped)
        extra="$key='$(printf '%s' "$dir" | sed "s/'/\\\\'/g")'"
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

if [ "$command" = infocam-train ] && [ "${INFOCAM_DOCTOR:-1}" != 0 ] && [ "${multirun:-no}" = no ]; then
    options=no
    for arg in "$@"; do
        case "$arg" in -*) options=yes ;; esac
    done
    # --cfg/--help and the like run nothing: no pre-flight for them
    if [ "$options" = no ]; then
        infocam-doctor "$@" >&2 || exit 1
    fi
fi

exec "$command" "$@"
