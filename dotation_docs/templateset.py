"""Template set: the templates a run uses, located, loaded once and checked before any
workbook is read.

The search path is the agent's folder (``-m``) first, then the bundled templates, file by
file: a partial folder overrides only the files it has. A file of the agent's folder whose
name matches no template is reported. :func:`check_templates` finds every problem at once
(syntax, unknown variables, filters and tests, tags that load other files, deprecated
variables as warnings) by walking each template's Jinja tree against the context the
catalogue gives its type, then dry-renders it on a synthetic operation
(:mod:`dotation_docs.synthetic`) with its optional fields filled and empty.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import nodes

from dotation_docs import context as context_module
from dotation_docs.documents import DocumentSpec, Inputs, Renderer, inputs, specs, template_names
from dotation_docs.exceptions import TemplateError, describe_os_error
from dotation_docs.funding import batch_funding
from dotation_docs.model import ConventionKind
from dotation_docs.rendering import (
    UNSUPPORTED_TAGS,
    LoadedTemplate,
    Source,
    build_environment,
    dry_render,
    load_template,
    parse_source,
    template_sources,
    unsupported_tag_message,
    where,
)
from dotation_docs.synthetic import synthetic_dotation

log = logging.getLogger(__name__)

_ANY = object()  # a value whose shape the static check does not know
# What templates may call on a group of values (the sandbox allows these).
_MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})
_VARIABLES_HINT = "(voir docs/modeles.md pour la liste des variables)"


def default_templates_dir() -> Path:
    """Return the bundled templates: ``templates/`` inside the installed package, or at
    the root of a source checkout."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "templates"


@dataclass
class TemplateSet:
    """The templates of a run: each loaded once, from the agent's folder when it has the
    file, else from the bundled ones. ``missing`` lists the problems of templates that
    could not be loaded; ``stray`` the files of the agent's folder that match no template."""

    folder: Path | None
    bundled: Path
    templates: dict[str, LoadedTemplate] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)
    #: The Word templates compiled once (:mod:`dotation_docs.fastdocx`), by name, with the
    #: environment they were compiled for.
    compiled: dict[str, tuple[jinja2.Environment, Any]] = field(default_factory=dict, repr=False)

    def __getitem__(self, name: str) -> LoadedTemplate:
        return self.templates[name]

    def word(self, name: str, env: jinja2.Environment) -> Any:
        """Return the Word template ``name`` compiled for ``env``
        (:class:`~dotation_docs.fastdocx.CompiledDocxTemplate`), compiled on first use and
        kept: the check, the render and every worker process share it. Raises
        TemplateError when it is not a usable Word document."""
        from dotation_docs import fastdocx  # kept local: heavy, Word only

        kept = self.compiled.get(name)
        if kept is None or kept[0] is not env:
            kept = self.compiled[name] = (env, fastdocx.compile_docx(self.templates[name], env))
        return kept[1]

    def is_custom(self, name: str) -> bool:
        """True when the template ``name`` comes from the agent's folder."""
        return self.folder is not None and self.templates[name].origin.parent == self.folder


def check_folder(folder: Path) -> list[str]:
    """Return the agent's template folder's regular files; raises TemplateError when it
    cannot be used."""
    if not folder.exists():
        raise TemplateError(f"le dossier de modèles « {folder} » est introuvable. Vérifiez le chemin donné avec -m.")
    if not folder.is_dir():
        raise TemplateError(f"« {folder} » est un fichier : indiquez avec -m le dossier qui contient les modèles.")
    try:
        names = os.listdir(folder)
        return sorted(n for n in names if (folder / n).is_file())  # is_file raises without the x right
    except OSError as err:
        raise TemplateError(f"le dossier de modèles « {folder} » est illisible : {describe_os_error(err)}.") from err


def _ignored(name: str) -> bool:
    # Hidden files, and the lock files Word (~$…) and LibreOffice (.~lock…) leave open.
    return name.startswith((".", "~$")) or name.endswith("~")


def load_template_set(names: Sequence[str], folder: Path | None = None, bundled: Path | None = None) -> TemplateSet:
    """Locate and load the templates ``names``: the agent's ``folder`` first, then the
    bundled ones. Raises TemplateError when ``folder`` cannot be used; a template found
    nowhere is listed in ``missing``."""
    bundled = bundled or default_templates_dir()
    result = TemplateSet(folder, bundled)
    present = check_folder(folder) if folder is not None else []
    known = set(template_names())
    for stray in (n for n in present if n not in known and not _ignored(n)):
        close = difflib.get_close_matches(stray, sorted(known), n=1, cutoff=0.6)
        hint = f" ; vouliez-vous dire « {close[0]} » ?" if close else ""
        result.stray.append(
            f"le fichier « {stray} » du dossier de modèles « {folder} » ne correspond à aucun modèle : "
            f"il n'est pas utilisé{hint}"
        )
    for name in names:
        path = folder / name if folder is not None and name in present else bundled / name
        try:
            result.templates[name] = load_template(path, name)
        except TemplateError as err:
            result.missing.append(err.message)
    return result


# --- The check --------------------------------------------------------------------------------


@dataclass
class TemplateCheck:
    """The problems found in a template set (each a French sentence naming the template)
    and the warnings (stray files, deprecated variables)."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no template has a problem."""
        return not self.problems

    def raise_for_problems(self) -> None:
        """Raise one TemplateError listing every problem (the problem itself when there is
        only one)."""
        if not self.problems:
            return
        if len(self.problems) == 1:
            raise TemplateError(self.problems[0])
        listed = "\n".join(f"  - {p}" for p in self.problems)
        raise TemplateError(
            f"{len(self.problems)} problèmes dans les modèles ; aucun document n'a été écrit :\n{listed}"
        )


@dataclass(frozen=True)
class _Use:
    """A type that uses a template, with its synthetic contexts (optional fields filled,
    then empty) and titles."""

    spec: DocumentSpec
    samples: tuple[tuple[str, Mapping[str, Any]], ...]


def _samples(spec: DocumentSpec, kind: ConventionKind) -> tuple[tuple[str, Mapping[str, Any]], ...]:
    found = []
    for filled in (True, False):
        dotation = synthetic_dotation(filled, kind)
        given: Inputs = inputs(dotation, batch_funding(dotation))
        if spec.applies.value == "operation":
            beneficiary = None
        else:
            beneficiary = dotation.associations[0]
        title = spec.title(given, beneficiary)
        found.append((title, spec.context(given, beneficiary, title)))
    return tuple(found)


def _uses(selected: Iterable[DocumentSpec]) -> dict[str, list[_Use]]:
    """Return, for each template of ``selected``, the types that use it."""
    uses: dict[str, list[_Use]] = {}
    for spec in selected:
        if spec.template is None or spec.renderer is Renderer.SPREADSHEET:
            continue
        variants = {spec.template: ConventionKind.LOAN} if isinstance(spec.template, str) else {
            name: kind for kind, name in spec.template.items()}
        for name, kind in variants.items():
            uses.setdefault(name, []).append(_Use(spec, _samples(spec, kind)))
    return uses


def deprecated_variables() -> dict[str, str]:
    """Return the template variables kept as aliases (old dotted name → new one)."""
    return dict(getattr(context_module, "DEPRECATED_VARIABLES", {}) or {})


class _Walker:
    """Walk one Jinja tree against a sample context: every variable path that does not
    exist, every unknown filter or test, every tag that loads another file."""

    def __init__(self, env: jinja2.Environment, deprecated: Mapping[str, str]) -> None:
        self.env = env
        self.deprecated = deprecated
        self.unknown: list[tuple[str, int]] = []
        self.filters: list[tuple[str, int]] = []
        self.tests: list[tuple[str, int]] = []
        self.used_deprecated: list[tuple[str, int]] = []

    def walk(self, tree: nodes.Template, sample: Mapping[str, Any]) -> None:
        self.visit(tree, dict(sample), set(sample))

    def visit(self, node: nodes.Node, scope: dict[str, Any], roots: set[str]) -> None:
        if isinstance(node, nodes.For):
            shape = self.resolve(node.iter, scope, roots)
            inner = dict(scope)
            element = shape[0] if isinstance(shape, (list, tuple)) and shape else _ANY
            self.bind(node.target, element, inner)
            inner["loop"] = _ANY
            inner_roots = roots - set(inner)
            for child in (*node.body, *([node.test] if node.test is not None else [])):
                self.visit(child, inner, inner_roots)
            for child in node.else_:
                self.visit(child, scope, roots)
            return
        if isinstance(node, nodes.Assign):
            shape = self.resolve(node.node, scope, roots)
            self.bind(node.target, shape, scope)
            roots.difference_update(scope.keys() - roots)
            return
        if isinstance(node, (nodes.AssignBlock, nodes.With, nodes.Macro, nodes.CallBlock)):
            inner = dict(scope)
            if isinstance(node, nodes.Macro):  # its name, in the enclosing scope and its own body (recursion)
                scope[node.name] = inner[node.name] = _ANY
            if isinstance(node, (nodes.Macro, nodes.CallBlock)):  # the names Jinja gives a macro's body
                inner.update(caller=_ANY, varargs=_ANY, kwargs=_ANY)
            for target in _targets(node):
                self.bind(target, _ANY, inner if not isinstance(node, nodes.AssignBlock) else scope)
            for child in node.iter_child_nodes():
                if child not in _targets(node):
                    self.visit(child, inner, roots - set(inner))
            return
        if isinstance(node, nodes.Expr):
            self.resolve(node, scope, roots)
            return
        for child in node.iter_child_nodes():
            self.visit(child, scope, roots)

    def bind(self, target: nodes.Node, shape: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = shape
        elif isinstance(target, nodes.Tuple):
            for item in target.items:
                self.bind(item, _ANY, scope)

    def resolve(self, node: nodes.Node, scope: dict[str, Any], roots: set[str]) -> Any:
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            if node.name not in self.env.globals:
                self.unknown.append((node.name, node.lineno))
            return _ANY
        if isinstance(node, (nodes.Getattr, nodes.Getitem)):
            key = node.attr if isinstance(node, nodes.Getattr) else (
                node.arg.value if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str) else None)
            base = self.resolve(node.node, scope, roots)
            if isinstance(node, nodes.Getitem) and key is None:
                self.visit(node.arg, scope, roots)
            path = _path(node, roots)
            if path is not None and path in self.deprecated:
                self.used_deprecated.append((path, node.lineno))
            if key is None or not isinstance(base, Mapping):
                return _ANY
            if key in base:
                return base[key] if base[key] is not None else _ANY
            if key not in _MAPPING_METHODS:
                self.unknown.append((_path(node, set(scope)) or key, node.lineno))
            return _ANY
        if isinstance(node, nodes.Filter) and node.name not in self.env.filters:
            self.filters.append((node.name, node.lineno))
        if isinstance(node, nodes.Test) and node.name not in self.env.tests:
            self.tests.append((node.name, node.lineno))
        for child in node.iter_child_nodes():
            self.visit(child, scope, roots)
        return _ANY


def _targets(node: nodes.Node) -> list[nodes.Node]:
    if isinstance(node, nodes.AssignBlock):
        return [node.target]
    if isinstance(node, nodes.With):
        return list(node.targets)
    if isinstance(node, (nodes.Macro, nodes.CallBlock)):
        return list(node.args)
    return []


def _path(node: nodes.Node, roots: set[str]) -> str | None:
    """Return ``operation.lieu`` for a chain of attributes from a variable in ``roots``."""
    if isinstance(node, nodes.Name):
        return node.name if node.name in roots else None
    if isinstance(node, nodes.Getattr):
        parent = _path(node.node, roots)
        return f"{parent}.{node.attr}" if parent else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
        parent = _path(node.node, roots)
        return f"{parent}.{node.arg.value}" if parent else None
    return None


def _static_problems(
    template: LoadedTemplate, uses: list[_Use], env: jinja2.Environment
) -> tuple[list[str], list[str], list[tuple[Source, nodes.Template]]]:
    """Return the problems and warnings found without rendering ``template``, and its
    sources with their trees."""
    name = template.name
    try:
        sources = template_sources(template)
    except TemplateError as err:
        return [err.message], [], []
    problems: list[str] = []
    warnings: list[str] = []
    parsed = []
    deprecated = deprecated_variables()
    for source in sources:
        source_env = env.overlay(autoescape=False) if source.properties else env
        try:
            tree = parse_source(template, source, source_env)
        except TemplateError as err:
            problems.append(err.message)
            continue
        parsed.append((source, tree))
        for node in tree.find_all(tuple(UNSUPPORTED_TAGS)):
            problems.append(unsupported_tag_message(
                name, UNSUPPORTED_TAGS[type(node)], source.text, node.lineno, template.is_docx))
        walker = _Walker(env, deprecated)
        for use in uses:
            walker.walk(tree, use.samples[0][1])
        at = lambda lineno: where(template, source, lineno)  # noqa: E731
        for variable, lineno in dict.fromkeys(walker.unknown):
            problems.append(f"le modèle « {name} » ne peut pas être rempli : la variable « {variable} » "
                            f"n'existe pas {_VARIABLES_HINT}.")
        for filter_name, lineno in dict.fromkeys(walker.filters):
            problems.append(f"le modèle « {name} » utilise le filtre « {filter_name} »{at(lineno)}, qui n'existe "
                            "pas (voir docs/modeles.md pour la liste des filtres).")
        for test_name, lineno in dict.fromkeys(walker.tests):
            problems.append(f"le modèle « {name} » utilise le test « {test_name} »{at(lineno)}, qui n'existe pas.")
        for old, lineno in dict.fromkeys(walker.used_deprecated):
            warnings.append(f"le modèle « {name} » utilise la variable « {old} », remplacée par "
                            f"« {deprecated[old]} » : elle fonctionne encore, mais renommez-la.")
    return list(dict.fromkeys(problems)), list(dict.fromkeys(warnings)), parsed


_CACHE: dict[tuple[Any, ...], tuple[tuple[str, ...], tuple[str, ...]]] = {}


def _renderer_environments(template: LoadedTemplate, env: jinja2.Environment
                           ) -> tuple[jinja2.Environment, jinja2.Environment] | None:
    """The environments :meth:`TemplateSet.word` renders a Word template's parts with
    (the same results and errors as ``env``): the check compiles each part for them, once
    for the check and the render. None for an HTML template (rendered with ``env``)."""
    if not template.is_docx:
        return None
    from dotation_docs import fastdocx  # kept local: heavy, Word only

    return fastdocx.environments(env)


def _check_one(template: LoadedTemplate, uses: list[_Use], env: jinja2.Environment) -> tuple[list[str], list[str]]:
    """Return the problems and warnings of one template. Templates do not depend on the
    data: the result is kept for the process, keyed by content and types."""
    key = (template.name, hashlib.sha256(template.data).hexdigest(), tuple(str(u.spec.type) for u in uses),
           tuple(sorted(deprecated_variables().items())))
    if key in _CACHE:
        problems, warnings = _CACHE[key]
        return list(problems), list(warnings)
    problems, warnings, parsed = _static_problems(template, uses, env)
    if not problems:  # a dry render finds attribute and type errors the tree does not show
        problems = dry_render(template, parsed, [sample for use in uses for _title, sample in use.samples], env,
                             _renderer_environments(template, env))
    _CACHE[key] = (tuple(problems), tuple(warnings))
    return problems, warnings


def check_templates(templates: TemplateSet, selected: Iterable[DocumentSpec] | None = None,
                    env: jinja2.Environment | None = None) -> TemplateCheck:
    """Return every problem of the templates ``selected`` types use (every type when
    None), and the warnings; templates are checked in catalogue order."""
    env = env or build_environment()
    result = TemplateCheck(list(templates.missing), list(templates.stray))
    for name, uses in _uses(specs() if selected is None else selected).items():
        if name not in templates.templates:
            continue  # already in ``missing``
        problems, warnings = _check_one(templates[name], uses, env)
        result.problems += problems
        result.warnings += warnings
    return result


def prepare_templates(selected: Sequence[DocumentSpec], folder: Path | None = None,
                      bundled: Path | None = None, env: jinja2.Environment | None = None,
                      ) -> tuple[TemplateSet, TemplateCheck]:
    """Return the template set of a run and its check; raises TemplateError listing every
    problem. Reads no workbook. ``env`` is the run's environment: the check and the
    render share it (and the Word templates compiled once, :meth:`TemplateSet.word`)."""
    env = env or build_environment()
    templates = load_template_set(template_names(selected), folder, bundled)
    checked = check_templates(templates, selected, env)
    for warning in checked.warnings:
        log.info("%s", warning)  # the command line prints them (Written.warnings)
    checked.raise_for_problems()
    return templates, checked


def describe_origin(templates: TemplateSet, name: str) -> str:
    """Return where a template comes from, in French."""
    if templates.is_custom(name):
        return f"votre dossier ({templates[name].origin})"
    return "modèle fourni"


__all__ = [
    "TemplateSet", "TemplateCheck", "load_template_set", "check_templates", "prepare_templates",
    "default_templates_dir", "describe_origin",
]
