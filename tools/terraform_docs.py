"""The README's module tables, rendered from the module's root *.tf files as terraform-docs would.

terraform-docs cannot be installed here, so this does its job: `make docs` rewrites the block
between the markers with Requirements, Providers, Modules, Resources, Inputs and Outputs (in
terraform-docs' order), `--check` fails when the README and the .tf files disagree.
"""

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
# terraform-docs links the latest docs unless the constraint pins one exact version; this
# module only sets lower bounds (versions.tf), so every link is to the latest docs.
REGISTRY_DOCS = "https://registry.terraform.io/providers/{source}/latest/docs/{kind}/{type}"
MODES = {"resource": ("resource", "resources"), "data": ("data source", "data-sources")}


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == '"' else text


def _expression(value: Any) -> str:
    text = str(value)
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return re.sub(r"\s+", " ", text)


def _default(block: dict[str, Any]) -> str:
    if "default" not in block:
        return "n/a"
    value = block["default"]
    if value is None or value == "null":
        return "`null`"
    return f"`{json.dumps(_unquote(value) if isinstance(value, str) else value)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _labelled(entries: list[dict[str, Any]]) -> Iterator[tuple[str, Any]]:
    """(label, body) of each block; python-hcl2 marks blocks with a `__is_block__` key."""
    for entry in entries:
        for label, body in entry.items():
            if not label.startswith("__"):
                yield _unquote(label), body


class Module:
    """The blocks of a module's root *.tf files, in file-name and then source order."""

    def __init__(self, root: Path) -> None:
        self.documents = []
        for path in sorted(root.glob("*.tf")):
            with path.open() as handle:
                self.documents.append(hcl2.load(handle))

    def blocks(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for document in self.documents:
            yield from _labelled(document.get(kind, []))

    def resources(self) -> Iterator[tuple[str, str, str]]:
        """(mode, type, name) of every `resource` and `data` block."""
        for mode in MODES:
            for type_, names in self.blocks(mode):
                for name, _ in _labelled([names]):
                    yield mode, type_, name

    def settings(self) -> Iterator[dict[str, Any]]:
        """The bodies of the `terraform` blocks (unlabelled, unlike the other kinds)."""
        for document in self.documents:
            yield from document.get("terraform", [])

    def required_providers(self) -> dict[str, dict[str, Any]]:
        return {
            name: block
            for settings in self.settings()
            for name, block in _labelled(settings.get("required_providers", []))
        }

    def required_versions(self) -> list[str]:
        return [
            _unquote(settings["required_version"])
            for settings in self.settings()
            if "required_version" in settings
        ]


def _table(title: str, header: Sequence[str], rows: list[str], empty: str) -> list[str]:
    lines = [f"## {title}", ""]
    if not rows:
        return [*lines, empty]
    alignment = ["|---" if column != "Required" else "|:---:" for column in header]
    return [*lines, f"| {' | '.join(header)} |", "".join(alignment) + "|", *rows]


def _version(block: dict[str, Any]) -> str:
    return _unquote(block.get("version", ""))


def _provider_source(name: str, required: dict[str, dict[str, Any]]) -> str:
    return _unquote(required.get(name, {}).get("source", f'"hashicorp/{name}"'))


def requirements(module: Module) -> list[str]:
    required = module.required_providers()
    rows = [f"| `terraform` | {version} |" for version in module.required_versions()]
    rows += [f"| `{name}` | {_version(required[name])} |" for name in sorted(required)]
    return _table("Requirements", ["Name", "Version"], rows, "No requirements.")


def providers(module: Module) -> list[str]:
    """The providers the module's resources and data sources use, named by type prefix."""
    required = module.required_providers()
    used = sorted({type_.split("_", 1)[0] for _, type_, _ in module.resources()})
    rows = [f"| `{name}` | {_version(required.get(name, {}))} |" for name in used]
    return _table("Providers", ["Name", "Version"], rows, "No providers.")


def modules(module: Module) -> list[str]:
    rows = [
        f"| `{name}` | {_unquote(block.get('source', ''))} | {_version(block)} |"
        for name, block in module.blocks("module")
    ]
    return _table("Modules", ["Name", "Source", "Version"], rows, "No modules.")


def resources(module: Module) -> list[str]:
    """Managed resources first, then data sources, each sorted by address (terraform-docs)."""
    required = module.required_providers()
    rows = []
    for mode, type_, name in sorted(
        module.resources(), key=lambda entry: (entry[0] != "resource", f"{entry[1]}.{entry[2]}")
    ):
        provider, short_type = type_.split("_", 1)
        label, kind = MODES[mode]
        source = _provider_source(provider, required)
        url = REGISTRY_DOCS.format(source=source, kind=kind, type=short_type)
        rows.append(f"| [{type_}.{name}]({url}) | {label} |")
    return _table("Resources", ["Name", "Type"], rows, "No resources.")


def inputs(module: Module) -> list[str]:
    rows = []
    for name, block in module.blocks("variable"):
        description = _cell(_unquote(block.get("description", "")))
        type_ = _cell(_expression(block.get("type", "any")))
        default = _cell(_default(block))
        required = "no" if "default" in block else "yes"
        rows.append(f"| `{name}` | {description} | `{type_}` | {default} | {required} |")
    header = ["Name", "Description", "Type", "Default", "Required"]
    return _table("Inputs", header, rows, "No inputs.")


def outputs(module: Module) -> list[str]:
    rows = [
        f"| `{name}` | {_cell(_unquote(block.get('description', '')))} |"
        for name, block in module.blocks("output")
    ]
    return _table("Outputs", ["Name", "Description"], rows, "No outputs.")


SECTIONS = (requirements, providers, modules, resources, inputs, outputs)


def render(root: Path = ROOT) -> str:
    module = Module(root)
    return "\n\n".join("\n".join(section(module)) for section in SECTIONS)


def with_tables(readme: str, tables: str) -> str:
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    return f"{readme[:start]}\n{tables}\n{readme[end:]}"


def main(argv: Sequence[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.terraform_docs", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="change nothing; fail if README.md is out of date"
    )
    arguments = parser.parse_args(argv)
    readme = root / "README.md"
    current = readme.read_text()
    expected = with_tables(current, render(root))
    if arguments.check:
        if current != expected:
            print("README.md's module tables are out of date: run `make docs`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
