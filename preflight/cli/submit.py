"""``preflight submit CONFIG --slurm``: audit and gate here; queue the training only if it passed.

Exit 0 queued (or a dry run whose gate passed), 1 the gate said no (nothing was queued), 2 bad
input or a scheduler that refused. ``--dry-run`` prints the batch script on standard output
(the verdict goes to standard error), so ``preflight submit run.yaml --slurm --dry-run > job.sh``
keeps it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from preflight.cli._exit import exit_2_on_error, print_error
from preflight.console import make_console

_Opt = typer.Option


def submit(
    config: Annotated[Path, typer.Argument(help="Run config (YAML); its cluster section too.")],
    slurm: Annotated[bool, _Opt("--slurm", help="Submit to Slurm (sbatch).")] = False,
    nodes: Annotated[int | None, _Opt(help="Nodes (cluster.nodes).")] = None,
    gpus_per_node: Annotated[int | None, _Opt(help="GPUs per node; 0 for CPU.")] = None,
    procs_per_node: Annotated[
        int | None, _Opt(help="torchrun ranks per node (default: GPUs per node, or 1).")
    ] = None,
    cpus_per_task: Annotated[int | None, _Opt(help="CPUs per node's task.")] = None,
    partition: Annotated[str | None, _Opt(help="Slurm partition.")] = None,
    account: Annotated[str | None, _Opt(help="Slurm account.")] = None,
    qos: Annotated[str | None, _Opt(help="Slurm QOS.")] = None,
    time: Annotated[str | None, _Opt(help="Time limit, e.g. 12:00:00 or 1-00:00:00.")] = None,
    sbatch_arg: Annotated[
        list[str] | None,
        _Opt(
            "--sbatch-arg", help="One more sbatch option, e.g. --sbatch-arg=--mem=32G; repeatable."
        ),
    ] = None,
    dry_run: Annotated[
        bool, _Opt("--dry-run", help="Audit, gate and print the script; submit nothing.")
    ] = False,
    quiet: Annotated[bool, _Opt("--quiet", "-q", help="No progress bar or audit table.")] = False,
) -> None:
    """Audit and gate on this host (CPU only); only if the gate passed, queue a torchrun
    training on Slurm that re-checks the corpus before it builds a model.

    Exit 0 queued, 1 the gate said no (sbatch was not called), 2 bad input or sbatch refused.
    """
    from preflight.pipelines.submit import submit as run_submit  # torch: only for this command
    from preflight.reports.runs import render_submit
    from preflight.reports.terminal import render_audit
    from preflight.results import Verdict

    if not slurm:
        print_error("say where to submit: --slurm (the only scheduler preflight knows)")
        raise typer.Exit(2)
    given: dict[str, Any] = {
        "nodes": nodes, "gpus_per_node": gpus_per_node, "procs_per_node": procs_per_node,
        "cpus_per_task": cpus_per_task, "partition": partition, "account": account, "qos": qos,
        "time": time, "sbatch_args": sbatch_arg,
    }  # fmt: skip
    cluster = {k: v for k, v in given.items() if v is not None}
    console = make_console(stderr=dry_run)  # a dry run's stdout is the script alone
    with exit_2_on_error():
        result = run_submit(config, cluster=cluster, dry_run=dry_run, progress=not quiet)
    if not quiet and result.audit.verdict is Verdict.FAIL:
        render_audit(result.audit, console)  # the gate said no: show why, split by split
    render_submit(
        result.audit, console, status=result.status, message=result.message,
        run_id=result.run_id, job_id=result.job_id, script=result.script_path,
    )  # fmt: skip
    if dry_run and result.script is not None:
        typer.echo(result.script, nl=False)
    raise typer.Exit(result.exit_code)
