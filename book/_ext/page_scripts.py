"""What each page loads: MathJax and mermaid from the site itself, and every script once.

The pages typeset formulas with MathJax and draw diagrams with mermaid, both JavaScript that the
theme would load from jsDelivr in the reader's browser. A copy on the site works offline, in the
course's browser tests and behind a firewall, and cannot change under the pages. Each package is
fetched once from the npm registry at the pinned version, checked against the registry's sha512,
unpacked into ``_build/.vendor`` and kept there for later builds.

With Sphinx 7.4, every inline script that an extension adds while the environment is read is
written twice into each page (seen with thebe's and togglebutton's, even in a one-page book), and the
browser stops at ``Identifier 'THEBE_JS_URL' has already been declared``; so a page keeps the first
of identical scripts, whoever added them.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import shutil
import tarfile
import urllib.request
from pathlib import Path

from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)
REGISTRY = "https://registry.npmjs.org"

# name: (version, the tarball's integrity as the registry lists it, files kept, under package/)
PACKAGES = {
    # the version sphinxcontrib-mermaid 2.1.1 loads by default; its ES module and the chunks it imports
    "mermaid": (
        "11.12.1",
        "sha512-UlIZrRariB11TY1RtTgUWp65tphtBv4CSq7vyS2ZZ2TgoMjs2nloq+wFqxiwcxlhHUvs7DPGgMjs2aeQxz5h9g==",
        ("dist/mermaid.esm.min.mjs", "dist/chunks/mermaid.esm.min/*.mjs"),
        "dist",
    ),
    # MathJax 3, as Sphinx 7 loads it (TeX in, CommonHTML out), with the fonts it fetches beside itself
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        ("es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/*.woff"),
        "es5",
    ),
}


def fetch(name: str, target: Path, opener=urllib.request.urlopen) -> Path:
    """Unpack the pinned files of package ``name`` into ``target/name`` unless they are there already."""
    version, integrity, patterns, root = PACKAGES[name]
    folder = target / name
    stamp = folder / ".version"
    if stamp.exists() and stamp.read_text() == f"{version} {integrity}":
        return folder
    url = f"{REGISTRY}/{name}/-/{name}-{version}.tgz"
    try:
        with opener(url, timeout=60) as response:
            data = response.read()
    except OSError as error:
        raise ExtensionError(
            f"could not fetch {name} {version} from {url}: {error}; the site serves its "
            "own copy of it, so the build needs the npm registry once"
        ) from error
    algorithm, expected = integrity.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise ExtensionError(f"{url}: {algorithm} is {actual}, not the pinned {expected}; refusing it")
    shutil.rmtree(folder, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for member in archive.getmembers():
            inside = member.name.removeprefix("package/")
            if member.isfile() and any(fnmatch.fnmatch(inside, p) for p in patterns):
                out = folder / Path(inside).relative_to(root)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(archive.extractfile(member).read())
    stamp.write_text(f"{version} {integrity}")
    return folder


def _config_inited(app, config) -> None:
    target = Path(app.outdir).parent / ".vendor"
    for name in PACKAGES:
        fetch(name, target)
    config.html_static_path = [*config.html_static_path, str(target)]
    config.mathjax_path = "mathjax/tex-chtml.js"  # relative to _static
    config.mermaid_use_local = "mermaid/mermaid.esm.min.mjs"


def _scripts_once(app, pagename, templatename, context, doctree) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = (str(script.filename or ""), tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"][:] = kept  # in place: it is the builder's list, which later handlers extend


def setup(app):
    app.connect("config-inited", _config_inited)
    # first: a handler that returns a template name ends the event for the ones after it
    app.connect("html-page-context", _scripts_once, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
