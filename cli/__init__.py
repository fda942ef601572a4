"""stylevid.cli — the thin Typer shell over stylevid.pipeline."""
