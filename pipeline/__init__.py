"""stylevid.pipeline — the importable engine behind the `stylevid` command."""
