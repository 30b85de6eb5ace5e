"""Running a gated training on a cluster scheduler: the Slurm batch script and commands."""
