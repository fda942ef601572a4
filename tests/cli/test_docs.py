"""The documentation cannot drift from the code.

* every ``stylevid …`` command in a shell code block of README.md and docs/*.md parses with the
  real command line (``--help`` appended), and without ``--help`` passes the validation pass
  (all but its file checks: stopped before any file is read); ``make X`` names a Makefile target;
* every picture and local link in them exists (and every ``#anchor`` names a heading);
* docs/usage.md mentions every option of ``stylevid`` and ``stylevid eval``, and no other;
* every Python block in docs/ compiles and its imports resolve. With ``STYLEVID_DOCS_RUN=1`` the
  blocks of docs/python-api.md are also run, in order, in one namespace (about a minute on a CPU).

Fast: no weights are loaded and nothing is optimised unless STYLEVID_DOCS_RUN=1.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import unicodedata
from pathlib import Path

import pytest
import typer

from stylevid.cli import app as cli

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_LANGS = {"bash", "sh", "shell", "console", "zsh"}
FENCE = re.compile(
    r"^(?P<indent> {0,3})(?P<fence>```+|~~~+)\s*(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)(?P=fence)\s*$",
    re.MULTILINE | re.DOTALL,
)


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def code_blocks(path: Path) -> list[tuple[str, str, int]]:
    """(language, body, line number) of every fenced block."""
    text = path.read_text(encoding="utf-8")
    return [(m["lang"].lower(), m["body"], text.count("\n", 0, m.start()) + 1) for m in FENCE.finditer(text)]


def prose(path: Path) -> str:
    """The Markdown without its fenced code blocks."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------- commands


def shell_commands(body: str) -> list[list[str]]:
    """Simple commands of a shell snippet: continuations joined, comments dropped, split at ; && || |."""
    joined = re.sub(r"\\\n", " ", body)
    commands: list[list[str]] = []
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("$ "):
            line = line[2:]
        if not line or line.startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        for token in lexer:
            if token and set(token) <= set(";&|<>"):
                if current:
                    commands.append(current)
                current = []
                if set(token) <= set("<>"):
                    next(lexer, None)  # the redirection's target
            else:
                current.append(token)
        if current:
            commands.append(current)
    return commands


ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.DOTALL)
SHELL_KEYWORDS = {"do", "then", "else", "time", "!"}


def _expand(word: str, variables: dict[str, str]) -> str:
    """``$x`` and ``${x…}`` from the snippet's own loops and assignments (others left as they are)."""

    def value(match: re.Match) -> str:
        name = match[1] or match[2]
        return variables.get(name, match[0])

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)", value, word)


def snippet_commands(body: str) -> list[list[str]]:
    """Simple commands with leading keywords and NAME=value prefixes dropped and loop variables set."""
    variables: dict[str, str] = {}
    found = []
    for words in shell_commands(body):
        while words and words[0] in SHELL_KEYWORDS:
            words = words[1:]
        if len(words) >= 3 and words[0] == "for" and words[2] == "in":
            variables[words[1]] = words[3] if len(words) > 3 else ""
            continue
        i = 0
        while i < len(words) and ASSIGNMENT.fullmatch(words[i]):
            name, text = ASSIGNMENT.fullmatch(words[i]).groups()
            if len(words) == 1 and "$(" not in text:
                variables[name] = _expand(text, variables)
            elif len(words) == 1:
                variables[name] = "x"  # a command substitution: any word will do
            i += 1
        if words[i:]:
            found.append([_expand(w, variables) for w in words[i:]])
    return found


def documented_commands(program: str) -> list[tuple[str, list[str]]]:
    found = []
    for path in DOCS:
        for lang, body, line in code_blocks(path):
            if lang not in SHELL_LANGS:
                continue
            for words in snippet_commands(body):
                if Path(words[0]).name == program:
                    found.append((f"{_rel(path)}:{line}: {shlex.join(words)}", words[1:]))
    return found


STYLEVID_COMMANDS = documented_commands("stylevid")
MAKE_COMMANDS = documented_commands("make")


def test_the_docs_show_commands():
    assert len(STYLEVID_COMMANDS) >= 20, [c for c, _ in STYLEVID_COMMANDS]
    assert any(args[:1] == ["eval"] for _, args in STYLEVID_COMMANDS)
    assert {"sample", "test"} <= {args[0] for _, args in MAKE_COMMANDS if args}


class _Reached(Exception):
    """Raised instead of starting the work: the command got that far with valid settings."""


def _stop_before_work(monkeypatch) -> None:
    """Let the CLI build and validate its configuration, then stop before any file is read.

    The validation pass runs except its file checks (the documented files need not exist).
    """
    import numpy as np

    from stylevid.pipeline import each_style, evaluate, image_job, validation
    from stylevid.pipeline import video_job as video
    from stylevid.pipeline.io import images, paths
    from stylevid.pipeline.scale import cluster
    from stylevid.pipeline.scale import runner as scaled

    def check_paths(input_path, style_paths, out_dir, init="content"):
        return "image" if paths.is_image_path(Path(input_path)) else "video"

    def reached(*args, **kwargs):
        raise _Reached(args, kwargs)

    monkeypatch.setattr(validation, "check_paths", check_paths)
    monkeypatch.setattr(validation, "check_flow_dir", lambda path: None)
    monkeypatch.setattr(paths, "create_output_folder", lambda out_dir: None)
    monkeypatch.setattr(images, "load_image", lambda path, **kwargs: np.zeros((32, 32, 3), np.uint8))
    monkeypatch.setattr(image_job, "stylize_image_file", reached)
    monkeypatch.setattr(each_style, "stylize_each_style", reached)
    monkeypatch.setattr(video, "stylize_video", reached)
    monkeypatch.setattr(scaled, "stylize_video_scaled", reached)
    monkeypatch.setattr(cluster, "ray_available", lambda: True)  # Ray is an extra: the docs hold without it
    monkeypatch.setattr(evaluate, "evaluate_pair", reached)
    monkeypatch.setattr(evaluate, "evaluate_clips", reached)


@pytest.mark.parametrize("where,args", STYLEVID_COMMANDS, ids=[c for c, _ in STYLEVID_COMMANDS])
def test_documented_stylevid_command_parses(where, args, monkeypatch):
    # 1. the real entry point with --help appended: an unknown option fails before help is shown
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        cli.main([*args, "--help"])
    assert exited.value.code == 0, f"{where}\n{err.getvalue()}"
    # 2. the real entry point without --help, stopped just before the work starts: every value
    #    converts, StyleConfig / VideoConfig accept the settings and so does the validation pass
    _stop_before_work(monkeypatch)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        try:
            cli.main(list(args))
        except _Reached:
            return
        except SystemExit as exit_:
            pytest.fail(f"{where}\nexit {exit_.code}: {err.getvalue()}")
    pytest.fail(f"{where}: the command returned without starting its work")


def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text(encoding="utf-8")
    return {m[1] for m in re.finditer(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.MULTILINE)}


@pytest.mark.parametrize("where,args", MAKE_COMMANDS, ids=[c for c, _ in MAKE_COMMANDS])
def test_documented_make_target_exists(where, args):
    targets = [a for a in args if not a.startswith("-") and "=" not in a]
    assert targets, where
    missing = [t for t in targets if t not in makefile_targets()]
    assert not missing, f"{where}: no Makefile target {missing}"


# --------------------------------------------------------------------------- pictures and links

IMAGE_SUFFIXES = (".png", ".gif", ".jpg", ".jpeg", ".svg", ".webp")


def local_links(path: Path) -> list[tuple[str, str]]:
    """(kind, target) of Markdown links/images and <img src>/<a href> outside code blocks."""
    text = prose(path)
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    found = [
        ("image" if m[1] else "link", m[2])
        for m in re.finditer(r"(!?)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    ]
    found += [("image", m[1]) for m in re.finditer(r"<img\b[^>]*\bsrc=[\"']([^\"']+)[\"']", text, re.IGNORECASE)]
    found += [("link", m[1]) for m in re.finditer(r"<a\b[^>]*\bhref=[\"']([^\"']+)[\"']", text, re.IGNORECASE)]
    return [(kind, target) for kind, target in found if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"`|\*\*|__|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    for line in prose(path).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match[1])
            name, n = base, 0
            while name in found:
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    found |= set(re.findall(r"<a\s+(?:id|name)=[\"']([^\"']+)[\"']", path.read_text(encoding="utf-8")))
    return found


LINKS = [(path, kind, target) for path in DOCS for kind, target in local_links(path)]


def test_the_docs_show_pictures():
    pictures = {(path.name, target) for path, kind, target in LINKS if kind == "image"}
    assert any(name == "README.md" for name, _ in pictures)
    assert any(name == "method.md" for name, _ in pictures)


@pytest.mark.parametrize("path,kind,target", LINKS, ids=[f"{_rel(p)}->{t}" for p, _, t in LINKS])
def test_linked_files_and_anchors_exist(path, kind, target):
    file_part, _, anchor = target.partition("#")
    resolved = (path.parent / file_part).resolve() if file_part else path
    assert resolved.exists(), f"{_rel(path)} links to {target}, which does not exist"
    assert REPO in resolved.parents or resolved == REPO, f"{_rel(path)} links outside the repository: {target}"
    if kind == "image" or resolved.suffix.lower() in IMAGE_SUFFIXES:
        assert resolved.is_file() and resolved.suffix.lower() in IMAGE_SUFFIXES, target
        assert resolved.stat().st_size < 1.5 * 2**20, f"{target} is over 1.5 MB: keep pictures in the docs small"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), f"{_rel(path)}: no heading or anchor #{anchor} in {_rel(resolved)}"


# --------------------------------------------------------------------------------- options


def cli_options(group: typer.Typer) -> set[str]:
    command = typer.main.get_command(group)
    names: set[str] = set()
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option":
            names.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("--"))
    return names


def test_usage_mentions_every_option():
    text = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")
    options = cli_options(cli.app) | cli_options(cli.eval_app)
    assert {"--style", "--beta", "--style-weight", "--alpha", "--content-weight", "--restart", "--json"} <= options
    missing = sorted(o for o in options if not re.search(re.escape(o) + r"(?![\w-])", text))
    assert not missing, f"docs/usage.md does not mention {missing}"


def test_usage_mentions_no_unknown_option():
    text = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")
    known = cli_options(cli.app) | cli_options(cli.eval_app) | {"--help"}
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
    assert not mentioned - known, f"docs/usage.md mentions options stylevid does not have: {sorted(mentioned - known)}"


# ---------------------------------------------------------------------------------- Python

PYTHON_BLOCKS = [
    (path, body, line) for path in DOCS for lang, body, line in code_blocks(path) if lang in ("python", "py")
]


def test_the_api_doc_has_examples():
    assert sum(1 for path, _, _ in PYTHON_BLOCKS if path.name == "python-api.md") >= 8


@pytest.mark.parametrize("path,body,line", PYTHON_BLOCKS, ids=[f"{_rel(p)}:{n}" for p, _, n in PYTHON_BLOCKS])
def test_python_block_compiles_and_imports_resolve(path, body, line):
    tree = ast.parse(body, filename=f"{_rel(path)}:{line}")
    compile(tree, f"{_rel(path)}:{line}", "exec")
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    exec(compile(ast.Module(body=imports, type_ignores=[]), f"{_rel(path)}:{line}", "exec"), {})


@pytest.mark.skipif(
    os.environ.get("STYLEVID_DOCS_RUN") != "1", reason="set STYLEVID_DOCS_RUN=1 to run the API examples (~1 min)"
)
def test_python_api_examples_run(tmp_path, monkeypatch):
    (tmp_path / "samples").symlink_to(REPO / "samples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for path, body, line in PYTHON_BLOCKS:
        if path.name != "python-api.md":
            continue
        exec(compile(body, f"{_rel(path)}:{line}", "exec"), namespace)
