"""The docs tables, generated from the registries (`parbench describe`).

README.md, config/README.md and results/README.md hold them between
`<!-- parbench describe: NAME -->` and `<!-- end -->`; `parbench describe --write
FILE...` refreshes them, and a test checks that the committed ones are current.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from parbench import columns
from parbench.backends import BACKENDS
from parbench.backends.base import allowed_values, option_fields
from parbench.config_checks import config_schema
from parbench.figures.registry import FIGURES
from parbench.workloads import WORKLOADS


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def backends_table() -> str:
    """One row per series a sweep runs by default: every backend, then its variants."""
    lines = ["| series | how | start-up (timed apart) | shared input travels as | "
             "versions recorded (besides the core packages) |",
             "|---|---|---|---|---|"]
    for backend in BACKENDS.values():
        packages = ", ".join(backend.packages) or "—"
        lines.append(f"| `{backend.name}` | {_cell(backend.summary)} | "
                     f"{_cell(backend.startup_covers)} | {_cell(backend.shared_input_travels)} | "
                     f"{packages} |")
        for label, variant in backend.variants.items():
            options = ", ".join(f"`{name}: {value}`" for name, value in variant.options.items())
            lines.append(f"| `{backend.name}-{label}` | `{backend.name}` with {options} | "
                         f"as `{backend.name}` | {_cell(variant.summary)} | {packages} |")
    return "\n".join(lines)


def series_table() -> str:
    """The `series` values a default sweep writes, and what each one is."""
    lines = ["| `series` | `engine` | `variant` | its options differ from the defaults in |",
             "|---|---|---|---|"]
    for backend in BACKENDS.values():
        lines.append(f"| `{backend.name}` | `{backend.name}` | | — |")
        for label, variant in backend.variants.items():
            options = ", ".join(f"`option_{name}` = `{value}`"
                                for name, value in variant.options.items())
            lines.append(f"| `{backend.name}-{label}` | `{backend.name}` | `{label}` | {options} |")
    return "\n".join(lines)


def options_table() -> str:
    """Every backend's options, their defaults and what a config may give."""
    lines = ["| backend | option | default | allowed | meaning |", "|---|---|---|---|---|"]
    for backend in BACKENDS.values():
        fields = option_fields(backend)
        if not fields:
            lines.append(f"| `{backend.name}` | — | | | no options |")
        for option_field in fields:
            default = "null" if option_field.default is None else option_field.default
            # Where a cluster is: given by a target in `clusters`, not by a series.
            where = "**in `clusters` only**: " if option_field.metadata.get("connection") else ""
            lines.append(f"| `{backend.name}` | `{option_field.name}` | `{default}` | "
                         f"{_cell(allowed_values(option_field))} | "
                         f"{where}{_cell(option_field.metadata['help'])} |")
    return "\n".join(lines)


def workloads_table() -> str:
    lines = ["| workload | regime | `size` means | kernels |", "|---|---|---|---|"]
    for workload in WORKLOADS.values():
        kernels = ", ".join(f"`{kernel}`" for kernel in workload.kernels)
        lines.append(f"| `{workload.name}` | {workload.regime} | "
                     f"{_cell(workload.summary or workload.size_unit)} | {kernels} |")
    return "\n".join(lines)


def config_key_meanings() -> dict[str, str]:
    """Each config key's description, from the schema (the one place it is written)."""
    schema = config_schema()
    if schema is None:  # an installed copy without the workflow beside it
        return {}
    properties = schema["properties"]
    return {key: " ".join(spec.get("description", "").split())
            for key, spec in properties.items()}


def _schema_type(spec: dict) -> str:
    kinds = spec.get("type", "")
    kinds = "/".join(kinds) if isinstance(kinds, list) else kinds
    if "oneOf" in spec.get("items", {}):
        return "list"
    return kinds or "—"


def _default(spec: dict, required: bool) -> str:
    if "default" not in spec:
        return "required" if required else "—"
    default = spec["default"]
    text = yaml_text(default)
    return f"`{text}`"


def yaml_text(value: object) -> str:
    """A default as YAML writes it inline (`null`, `false`, `[local]`)."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix(
        "\n...").strip()


def config_table() -> str:
    """Every config key: its type, default and meaning, from the schema (the one place
    they are written)."""
    schema = config_schema()
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]

    def add(key: str, spec: dict, required: bool) -> None:
        meaning = " ".join(spec.get("description", "").split())
        lines.append(f"| `{key}` | {_schema_type(spec)} | {_cell(_default(spec, required))} | "
                     f"{_cell(meaning)} |")

    for key, spec in schema["properties"].items():
        spec = spec if "$ref" not in spec else schema["definitions"][spec["$ref"].split("/")[-1]]
        add(key, spec, key in schema.get("required", []))
        nested = spec.get("properties") or spec.get("additionalProperties", {})
        inner_required = (nested.get("required", []) if not spec.get("properties")
                          else spec.get("required", []))
        nested = nested.get("properties", {}) if "properties" in nested and \
            not spec.get("properties") else nested
        prefix = f"{key}.<name>." if not spec.get("properties") else f"{key}."
        for name, inner in (nested.items() if isinstance(nested, dict) else []):
            if isinstance(inner, dict) and ("description" in inner or "$ref" in inner):
                if "$ref" in inner:
                    inner = {**schema["definitions"][inner["$ref"].split("/")[-1]], **{
                        k: v for k, v in inner.items() if k != "$ref"}}
                add(prefix + name, inner, name in inner_required)
    return "\n".join(lines)


def columns_table(table: str) -> str:
    """The columns of one table, in order, as parbench.columns declares them."""
    lines = ["| column | kind | unit | meaning |", "|---|---|---|---|"]
    settings = config_key_meanings()
    for name in columns.names(table, families=True):
        column = columns.BY_NAME[name]
        meaning = column.summary_meaning if table == columns.SUMMARY and \
            column.summary_meaning else column.meaning
        if column.group == "settings" and name in settings:
            meaning = f"as configured: {settings[name]}"
        if table == columns.SUMMARY and column.to_summary:
            meaning += f" ({column.to_summary} over the replicates)"
        lines.append(f"| `{name}` | {column.kind} | {column.unit} | {_cell(meaning)} |")
    return "\n".join(lines)


def plugin_columns_table() -> str:
    """The columns the registered backends and workloads declare of their own."""
    lines = ["| column | declared by | kind | unit | meaning |", "|---|---|---|---|---|"]
    seen = set()
    for prefix, plugins in (("backend_", BACKENDS.values()), ("workload_", WORKLOADS.values())):
        for plugin in plugins:
            for column in plugin.columns:
                name = f"{prefix}{column.name}"
                owners = ", ".join(f"`{other.name}`" for other in plugins
                                   if column in other.columns)
                if name not in seen:
                    seen.add(name)
                    lines.append(f"| `{name}` | {owners} | {column.kind} | {column.unit} | "
                                 f"{_cell(column.meaning)} |")
    return "\n".join(lines)


def model_parameters_table() -> str:
    """model.csv's parameters: each one's unit, whether it is fitted, and what it is."""
    from parbench.model.parameters import PARAMETERS

    lines = ["| `parameter` | `unit` | how | meaning |", "|---|---|---|---|"]
    for parameter in PARAMETERS:
        how = (f"fitted together (at least {parameter.bound:g})" if parameter.bound is not None
               else "from its own measurements")
        lines.append(f"| `{parameter.name}` | {parameter.unit} | {how} | "
                     f"{_cell(parameter.meaning)} |")
    return "\n".join(lines)


def figures_table() -> str:
    lines = ["| figure | file | report section | shows |", "|---|---|---|---|"]
    for figure in FIGURES.values():
        path = figure.path.replace("{extension}", "{png,pdf}")
        lines.append(f"| `{figure.name}` | `{path}` | {figure.category} | "
                     f"{_cell(figure.summary)} |")
    return "\n".join(lines)


TABLES: dict[str, Callable[[], str]] = {
    "backends": backends_table, "series": series_table, "options": options_table,
    "workloads": workloads_table, "figures": figures_table, "config": config_table,
    "plugin-columns": plugin_columns_table, "model-parameters": model_parameters_table,
    **{f"columns-{table}": (lambda table=table: columns_table(table))
       for table in columns.TABLES},
}
BLOCK = re.compile(r"(<!-- parbench describe: ([\w-]+) -->\n)(.*?)(<!-- end -->)", re.DOTALL)


def table(name: str) -> str:
    """A generated block's text: a table of the registries, or findings of a committed
    run (parbench.findings.pages)."""
    if name in TABLES:
        return TABLES[name]()
    from parbench.findings.pages import block

    found = block(name)
    if found is None:
        raise KeyError(f"no generated block named {name!r}")
    return found


def refreshed(text: str) -> str:
    """`text` with every generated block replaced by the current table."""
    return BLOCK.sub(lambda match: match.group(1) + table(match.group(2)) + "\n"
                     + match.group(4), text)


def write(paths: list[Path]) -> list[Path]:
    """Refresh the blocks of each file; returns the files that changed."""
    changed = []
    for path in paths:
        text = path.read_text()
        if refreshed(text) != text:
            path.write_text(refreshed(text))
            changed.append(path)
    return changed
