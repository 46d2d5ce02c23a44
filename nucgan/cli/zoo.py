"""``nucgan zoo``: list, show, pull, verify and publish models; inspect and clear the cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from nucgan.cli.output import err, out

app = typer.Typer(rich_markup_mode=None, help="The model zoo: pull published generators by id, verify them, publish your own.",
                  no_args_is_help=True)
cache_app = typer.Typer(rich_markup_mode=None, help="The local cache of pulled models (NUCGAN_CACHE).", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

ZOO_HELP = ("Extra zoo (folder or http(s) URL) searched after the shipped one; repeatable. "
            "NUCGAN_ZOO adds more (comma-separated).")


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


@app.command("list")
def list_command(
    zoo: Optional[List[str]] = typer.Option(None, "--zoo", help=ZOO_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines instead of a table."),
) -> None:
    """List the models of every zoo (works offline: the shipped zoo and the cache need no network)."""
    from nucgan.zoo.catalog import list_entries
    from nucgan.zoo.index import shipped_zoo

    rows, unreachable = list_entries(zoo)
    shipped = str(shipped_zoo())
    for location in unreachable:
        err.print(f"warning: zoo not reachable: {escape(location)}")
    if as_json:
        out.print_json(json.dumps([r.to_dict() for r in rows]))
        return
    table = Table(title="nucgan zoo")
    for col in ("id", "version", "kind", "cached", "zoo"):
        table.add_column(col, no_wrap=True)
    table.add_column("description", overflow="fold", ratio=1)
    for r in rows:
        kind = "recipe only" if r.kind == "placeholder" else r.kind
        where = "shipped" if r.zoo == shipped else r.zoo
        table.add_row(r.id, r.version, kind, "yes" if r.cached else "", escape(where), escape(r.description))
    out.print(table)


@app.command("show")
def show_command(
    ref: str = typer.Argument(..., metavar="ID[@VERSION]", help="The entry to show."),
    zoo: Optional[List[str]] = typer.Option(None, "--zoo", help=ZOO_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the manifest as JSON."),
) -> None:
    """Show an entry's manifest summary and model card."""
    from nucgan.zoo.catalog import show

    manifest, card, where = show(ref, zoo)
    if as_json:
        out.print_json(json.dumps({"where": where, "manifest": manifest}))
        return
    out.print(f"[bold]{manifest['id']}@{manifest['version']}[/] ({manifest['kind']}) from {escape(where)}")
    out.print(escape(manifest["description"]))
    if manifest["kind"] == "placeholder":
        out.print(f"\nNo weights ship with nucgan: {escape(manifest['reason'])}")
        out.print(f"Train it:   {escape(manifest['recipe']['train'])}")
        out.print(f"Publish it: {escape(manifest['recipe']['publish'])}")
    else:
        w = manifest["weights"]
        out.print(f"generator {manifest['generator']['name']} {escape(json.dumps(manifest['generator']['config']))}")
        out.print(f"weights {w['file']} ({w['dtype']}, {_size(w['size'])}) sha256 {w['sha256']}")
        out.print(f"license {escape(manifest['license'])}; authors {escape(', '.join(manifest['authors']))}")
    if card:
        out.print("")
        out.print(card, markup=False)


@app.command("pull")
def pull_command(
    ref: str = typer.Argument(..., metavar="ID[@VERSION]", help="The entry to download (newest version if none)."),
    zoo: Optional[List[str]] = typer.Option(None, "--zoo", help=ZOO_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Download an entry into the cache (sha256-checked, resumable, shared by concurrent jobs); print its weights path."""
    from nucgan.zoo.pulling import pull

    pulled = pull(ref, zoo, quiet=True if quiet else None)
    origin = "cache" if pulled.from_cache else pulled.source
    err.print(f"{pulled.ref} ready (from {escape(origin)})")
    out.print(str(pulled.weights))


@app.command("verify")
def verify_command(
    target: Optional[str] = typer.Argument(None, metavar="[ID[@VERSION]|FOLDER]",
                                           help="A cached entry, a zoo folder or an entry folder; all cached entries "
                                                "if omitted."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """Re-hash every file and run each entry's own test; exit 2 if any entry fails."""
    from nucgan.zoo.check import verify
    from nucgan.zoo.errors import ZooError

    verdicts = verify(target)
    if as_json:
        out.print_json(json.dumps([v.to_dict() for v in verdicts]))
    elif not verdicts:
        out.print("nothing to verify: the cache is empty")
    for v in verdicts if not as_json else []:
        label = f"{v.id}@{v.version}"
        if v.kind == "placeholder":
            out.print(f"{label}: placeholder (recipe only, no weights): manifest ok")
        elif v.ok:
            out.print(f"{label}: ok (sha256 match, test max |diff| {v.max_diff:.3g}) {escape(v.where)}")
        else:
            out.print(f"{label}: [red]FAILED[/] {escape('; '.join(v.problems))}")
    failed = [f"{v.id}@{v.version}" for v in verdicts if not v.ok]
    if failed:
        raise ZooError(f"verification failed for {', '.join(failed)}")


@app.command("publish")
def publish_command(
    run: Path = typer.Argument(..., metavar="RUN", help="Training run folder (holds generator.safetensors)."),
    id: str = typer.Option(..., "--id", help="Entry id: lower-case letters, digits, '.', '_', '-'."),
    to: Path = typer.Option(..., "--to", help="Zoo folder to publish into (created if missing)."),
    version: str = typer.Option("1", "--version", help="Entry version (dotted numbers); never overwritten."),
    half: bool = typer.Option(False, "--half", help="Store weights as float16 (half the size)."),
    cover: Optional[Path] = typer.Option(None, "--cover", help="PNG picture mask | real | generated."),
    description: Optional[str] = typer.Option(None, "--description", help="One-line description."),
    license: Optional[str] = typer.Option(None, "--license", help="License of the weights (SPDX id, e.g. CC-BY-4.0)."),
    author: Optional[List[str]] = typer.Option(None, "--author", help="Author; repeatable."),
    reference: Optional[str] = typer.Option(None, "--reference", help="Citation or URL."),
    atol: Optional[float] = typer.Option(None, "--atol", help="Tolerance of the entry's test (default 1e-3)."),
    downstream: Optional[Path] = typer.Option(None, "--downstream", help="nucgan downstream results (folder or "
                                              "results.json) made with this run: into manifest and card."),
) -> None:
    """Build a zoo entry from a run (weights, manifest, card, cover), test it, then add it to the zoo's index."""
    from nucgan.zoo.publishing import publish

    report = publish(run, id, to, version=version, half=half, cover=cover, description=description,
                     license=license, authors=author, reference=reference, atol=atol,
                     downstream=downstream)
    for note in report.notes:
        err.print(f"note: {escape(note)}")
    m = report.manifest
    drift = f"; float16 drift {report.half_drift:.3g}" if report.half_drift is not None else ""
    out.print(f"published {m['id']}@{m['version']} to {escape(str(report.folder))} (test max |diff| "
              f"{report.test_max_diff:.3g}{drift}); index {escape(str(report.index))}")


@app.command("reindex")
def reindex_command(
    folder: Path = typer.Argument(..., metavar="ZOO", help="Zoo folder whose index.json to rebuild."),
) -> None:
    """Rebuild a folder zoo's index.json from its manifests (after editing one by hand)."""
    from nucgan.zoo.publishing import reindex

    out.print(f"wrote {escape(str(reindex(folder)))}")


@cache_app.command("list")
def cache_list_command(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for machines."),
) -> None:
    """List pulled entries, their size and origin, and the space the cache uses."""
    from nucgan.zoo.cache import Cache
    from nucgan.zoo.manifest import files_of

    cache = Cache()
    entries = cache.entries()
    usage = cache.usage()
    rows = [{"id": e.manifest["id"], "version": e.manifest["version"], "source": e.source, "pulled": e.pulled,
             "complete": cache.complete(e), "size": sum(f["size"] for f in files_of(e.manifest).values())}
            for e in entries]
    if as_json:
        out.print_json(json.dumps({"cache": str(cache.root), "entries": rows, "usage": usage}))
        return
    table = Table(title=f"nucgan cache: {escape(str(cache.root))}")
    for col in ("id", "version", "size", "pulled", "source"):
        table.add_column(col, overflow="fold")
    for r in rows:
        size = _size(r["size"]) + ("" if r["complete"] else " (incomplete)")
        table.add_row(r["id"], r["version"], size, r["pulled"], escape(r["source"]))
    out.print(table)
    out.print(f"files {_size(usage['blobs'])}, partial downloads {_size(usage['partial'])}, "
              f"temp {_size(usage['tmp'])}")


@cache_app.command("clear")
def cache_clear_command(
    ref: Optional[str] = typer.Argument(None, metavar="[ID[@VERSION]]", help="Only this entry; everything if omitted."),
) -> None:
    """Remove cached entries (and files no other entry uses), or the whole cache."""
    from nucgan.zoo.cache import Cache
    from nucgan.zoo.names import parse_ref

    cache = Cache()
    count, freed = cache.remove(parse_ref(ref) if ref else None)
    out.print(f"removed {count} entr{'y' if count == 1 else 'ies'}, freed {_size(freed)} from {escape(str(cache.root))}")


@cache_app.command("dir")
def cache_dir_command() -> None:
    """Print the cache folder (NUCGAN_CACHE or the platform's cache folder)."""
    from nucgan.zoo.cache import cache_dir

    out.print(str(cache_dir()))
