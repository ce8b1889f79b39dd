"""Run-time plumbing: atomic files, run-directory locks, checkpoint reading, launchers, the wandb
logger and the packaged config location. Nothing here is science."""
