"""Command line: ``dotation verifier | generer | convention | demande | etat | modeles | nouveau``.

Thin commands: parse options, call one pipeline function, print its summary. User
errors are :class:`~dotation_docs.exceptions.DotationError` and print ``Erreur : …``.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gettext
import logging
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import click.core
import click.decorators
import click.exceptions
import click.formatting
import click.parser
import click.types
import click.utils

from dotation_docs import DEFAULT_OUTPUT, __version__
from dotation_docs.exceptions import InvalidWorkbookError, TemplateError, describe_os_error, label, terminal_text
from dotation_docs.reading import read_ahead
from dotation_docs.workers import default_jobs

if TYPE_CHECKING:
    from dotation_docs import pipeline

# The rest of the tool (python-docx, Jinja, Babel…: half a second) is imported inside each
# command, once the workbook's reading has started in another process (reading.read_ahead).

# click's own messages, in French (click looks them up through gettext at run time).
_FRENCH = {
    "Usage:": "Utilisation :",
    "Options": "Options ",
    "Commands": "Commandes ",
    "Show this message and exit.": "Affiche cette aide et quitte.",
    "Show the version and exit.": "Affiche la version et quitte.",
    "Try '{command} {option}' for help.": "Pour l'aide : « {command} {option} ».",
    "Missing {param_type}": "{param_type} manquant",
    "Missing argument": "Argument manquant",
    "Missing option": "Option manquante",
    "Missing parameter": "Paramètre manquant",
    "argument": "Argument",
    "option": "Option",
    "parameter": "Paramètre",
    "Missing command.": "Commande manquante.",
    "No such command {name!r}.": "Commande inconnue : {name!r}.",
    "No such option {name!r}.": "Option inconnue : {name!r}.",
    "No such option: {name}": "Option inconnue : {name}",
    "Invalid value for {param_hint}: {message}": "Valeur incorrecte pour {param_hint} : {message}",
    "Invalid value: {message}": "Valeur incorrecte : {message}",
    "Got unexpected extra argument ({args})": "Argument en trop ({args})",
    "Got unexpected extra arguments ({args})": "Arguments en trop ({args})",
    "Option {name!r} requires an argument.": "L'option {name!r} attend une valeur.",
    "Option {name!r} does not take a value.": "L'option {name!r} ne prend pas de valeur.",
    "Did you mean {possibility}?": "Vouliez-vous dire {possibility} ?",
    "(Did you mean one of: {possibilities}?)": "(Vouliez-vous dire l'une de : {possibilities} ?)",
    "Aborted!": "Interrompu.",
    # click title-cases {name} (« Le Dossier ») : the French sentences do without it.
    "{name} {filename!r} does not exist.": "{filename!r} n'existe pas.",
    "{name} {filename!r} is a file.": "{filename!r} est un fichier, pas un dossier.",
    "{name} {filename!r} is not writable.": "{filename!r} n'est pas accessible en écriture.",
    "default: {default}": "par défaut : {default}",
}


def _say(text: str, err: bool = False) -> None:
    """Print a line that may hold the workbook's values or file names (see terminal_text)."""
    click.echo(terminal_text(text), err=err)


def _labelled(prefix: str, colour: str, text: str, err: bool = False) -> None:
    """Print « Attention : … » and the like: ``prefix`` styled, then ``text`` as :func:`_say` does."""
    click.echo(f"{label(prefix, colour)} {terminal_text(text)}", err=err)


class _Escaping(str):
    """A message of click, in French, whose values (a file name, an argument given) are
    written as :func:`terminal_text` writes them when click fills it in."""

    def format(self, *args: object, **kwargs: object) -> str:
        def escaped(value: object) -> object:
            return terminal_text(value) if isinstance(value, str) else value

        return str.format(self, *map(escaped, args), **{k: escaped(v) for k, v in kwargs.items()})


def _fr(message: str) -> str:
    if message == "Error: {message}":  # styled at each use: NO_COLOR is read then
        return _Escaping(label("Erreur :", "red") + " {message}")
    if message == "Aborted!":
        return _stopped() or _FRENCH[message]
    return _Escaping(_FRENCH.get(message, gettext.gettext(message)))


def _stopped() -> str | None:
    """What a command stopped by Ctrl-C, SIGTERM or SIGHUP says when it had already put
    its files in place (the signal came during the swap, which held it back): its summary
    and notes are not printed. None otherwise."""
    outputdir = sys.modules.get("dotation_docs.outputdir")  # imported only by a command that writes
    committed = getattr(outputdir, "COMMITTED", None)
    if not committed:
        return None
    return terminal_text(f"Interrompu juste après la mise en place des fichiers de la commande dans "
                         f"« {committed[-1]} » : ils sont tous écrits, manifeste compris. Le résumé n'a pas été "
                         "affiché : « dotation etat » montre ce qui reste à faire.")


def _fr_n(singular: str, plural: str, n: int) -> str:
    return _fr(singular if n == 1 else plural)


for _module in (click.core, click.decorators, click.exceptions, click.formatting, click.parser, click.types):
    if hasattr(_module, "_"):
        _module._ = _fr  # type: ignore[attr-defined]
    if hasattr(_module, "ngettext"):
        _module.ngettext = _fr_n  # type: ignore[attr-defined]

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# Paths are checked by the pipeline (one French sentence, exit 1), not by click.Path's
# own checks (English-shaped messages, exit 2 and a usage block): click.Path checks
# readability unless told not to, and nothing else is asked of it.
PATH = click.Path(path_type=Path, readable=False)
workbook_argument = click.argument("classeur", type=PATH, metavar="CLASSEUR")
output_option = click.option(
    "-o", "--sortie", type=PATH, metavar="DOSSIER", default=DEFAULT_OUTPUT,
    show_default=True, help="Dossier où écrire les documents.",
)
templates_option = click.option(
    "-m", "--modeles", type=PATH, metavar="DOSSIER", default=None,
    help="Dossier des modèles Word et HTML (par défaut : les modèles fournis).",
)
overwrite_option = click.option(
    "--ecraser", is_flag=True,
    help="Remplace aussi les documents modifiés depuis leur génération et les fichiers d'un autre "
    "programme qui portent le nom d'un document à écrire.",
)

pdf_option = click.option(
    "--pdf", is_flag=True,
    help="Convertit aussi en PDF chaque document Word et Excel écrit (même nom, à côté de lui), par "
    "LibreOffice ; generer et demande écrivent en plus le dossier de demande en un seul PDF.",
)
pdfa_option = click.option(
    "--pdfa", is_flag=True,
    help="Comme --pdf, au format d'archivage PDF/A-2b (le dossier de demande passe par Ghostscript).",
)
soffice_option = click.option(
    "--soffice", metavar="CHEMIN", default=None,
    help="Programme LibreOffice à utiliser pour --pdf (sinon la variable DOTATION_SOFFICE, puis "
    "soffice parmi les programmes installés).",
)


def _positive_count(_ctx: click.Context, _param: click.Parameter, value: str | None) -> int | None:
    """-j N: a whole number of processes, at least 1 (click's own messages are English)."""
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise click.BadParameter(f"« {terminal_text(value)} » n'est pas un nombre de processus : un nombre entier "
                                 "d'au moins 1 est attendu (ex. -j 2).")
    return int(text)


jobs_option = click.option(
    "-j", "--jobs", "--processus", "jobs", type=str, metavar="N", default=None, callback=_positive_count,
    help="Nombre de processus qui produisent les documents en parallèle (par défaut : le nombre de "
    "cœurs de la machine ; 1 : tout dans le processus de la commande).",
)
def _quiet_option(examples: str) -> Callable[[Any], Any]:
    """-q for a command that writes documents; ``examples`` are the notes it may still print.
    No-break spaces inside the guillemets: the help never breaks a line there."""
    return click.option(
        "-q", "--silencieux", "--quiet", "quiet", is_flag=True,
        help="Pour les scripts : rien sur la sortie standard ; sur la sortie d'erreur, les erreurs et les "
        f"lignes «\u00a0Attention\u00a0» (points à traiter : {examples}). Les avertissements du classeur ne "
        "sont pas affichés (voyez «\u00a0dotation verifier\u00a0»). Code de sortie : 0 si la commande a "
        "réussi, 1 sinon.",
    )


_BATCH_NOTES = "dossier de demande non produit, procès-verbaux non signés…"

verify_quiet_option = click.option(
    "-q", "--silencieux", "--quiet", "quiet", is_flag=True,
    help="N'affiche que les erreurs (pas de résumé) : le code de sortie dit si le classeur est valide.",
)

# The progress bar appears on a terminal only, for runs long enough to wait for.
PROGRESS_MIN_DOCUMENTS = 20


def _stderr_is_terminal() -> bool:
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


PROGRESS_LABEL = "Rendu des documents"
# The widest bar; on a narrower terminal the bar shrinks so that its line never wraps (a
# wrapped line would be redrawn on a new line at every update).
PROGRESS_MAX_WIDTH = 36


def _progress_width(columns: int) -> int:
    """Width of the bar on a terminal of ``columns`` columns: what is left once the label,
    the brackets and the percentage (« Rendu des documents  [###]  100% ») are written, one
    column spared so that the cursor never reaches the last one (0: the line cannot fit,
    no bar is drawn)."""
    clutter = len(PROGRESS_LABEL) + len("  [") + len("]  ") + len("100%")
    return max(0, min(PROGRESS_MAX_WIDTH, columns - clutter - 1))


def _stderr_columns() -> int:
    """Columns of the terminal the bar is drawn on: stderr's (``shutil.get_terminal_size``
    asks stdout's, which may be a pipe or a file while stderr is the terminal); COLUMNS
    when set to a positive number, as shutil reads it."""
    try:
        columns = int(os.environ["COLUMNS"])
        if columns > 0:  # shutil ignores 0 and less too
            return columns
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size().columns


def _progress(quiet: bool) -> pipeline.Progress | None:
    """The progress bar of the rendering (on stderr), or None in a pipe, with -q, or on a
    terminal that cannot redraw a line (``TERM=dumb``: the bar hides the cursor with an
    escape sequence at every redraw)."""
    if quiet or not _stderr_is_terminal() or os.environ.get("TERM") == "dumb":
        return None

    @contextlib.contextmanager
    def bar(total: int) -> Iterator[Callable[[int], None]]:
        width = _progress_width(_stderr_columns())
        if total < PROGRESS_MIN_DOCUMENTS or width == 0:
            yield lambda _n: None
            return
        with click.progressbar(length=total, label=PROGRESS_LABEL, file=sys.stderr,
                               show_eta=False, width=width) as progress:
            yield progress.update

    return bar


def _quiet(quiet: bool) -> None:
    if quiet:
        logging.getLogger().setLevel(logging.ERROR)


def _pdf_options(pdf: bool, pdfa: bool, soffice: str | None) -> pipeline.PdfOptions | None:
    """--pdfa implies --pdf; without either, no PDF and no LibreOffice."""
    from dotation_docs import pipeline

    return pipeline.PdfOptions(pdfa=pdfa, soffice=soffice) if pdf or pdfa else None


@click.group("dotation", context_settings=CONTEXT, subcommand_metavar="COMMANDE [ARGUMENTS]...")
@click.version_option(__version__, "-V", "--version", prog_name="dotation", message="%(prog)s %(version)s")
@click.option("-v", "--verbeux", is_flag=True, help="Affiche le détail des étapes.")
def cli(verbeux: bool) -> None:
    """Génère les documents d'une opération de remise de matériel informatique
    (conventions, procès-verbaux, communiqué de presse, demande de subvention)
    à partir du classeur Excel de l'opération."""
    logging.basicConfig(level=logging.INFO if verbeux else logging.WARNING, format="%(message)s")
    # The libraries' own warnings (openpyxl's, in English) go to the log, shown with -v
    # only: what they are about reaches the agent as French errors of the validation.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.WARNING if verbeux else logging.ERROR)


@cli.command("verifier", short_help="Vérifie le classeur et affiche un résumé.")
@workbook_argument
@click.option("--strict", is_flag=True, help="Traite les avertissements comme des erreurs.")
@click.option(
    "-m", "--modeles", type=PATH, metavar="DOSSIER", default=None,
    help="Vérifie aussi les modèles de ce dossier (complétés par les modèles fournis).",
)
@click.option(
    "-o", "--sortie", type=PATH, metavar="DOSSIER", default=DEFAULT_OUTPUT, show_default=True,
    help="Dossier de sortie dont signaler un lancement interrompu (rien n'y est écrit).",
)
@verify_quiet_option
def verify_command(classeur: Path, strict: bool, modeles: Path | None, sortie: Path, quiet: bool) -> None:
    """Vérifie le classeur CLASSEUR et affiche toutes ses erreurs et un résumé ; avec -m,
    vérifie aussi les modèles. Signale aussi un lancement interrompu dans le dossier de
    sortie, sans rien y réparer ni écrire. Avec -q, n'affiche que les erreurs."""
    from dotation_docs import pipeline
    from dotation_docs.summary import describe_template_set, describe_totals

    _quiet(quiet)
    checked = pipeline.check_workbook(classeur, strict, modeles)
    if quiet:  # errors only: the problems that make the verdict, on stderr
        if not checked.ok:
            shown = checked.report.issues if strict else checked.report.errors
            for issue in shown:
                _say(str(issue), err=True)
            for problem in checked.templates.problems if checked.templates is not None else []:
                _say(problem, err=True)
            raise InvalidWorkbookError(checked.verdict())
        return
    interrupted = pipeline.interrupted_run(sortie)
    if interrupted:
        _labelled("Attention :", "yellow", interrupted)
    _say(f"Classeur : {classeur}")
    if checked.templates is not None:
        for line in describe_template_set(None, checked.templates):
            _say(line)
    if checked.report.issues:
        _say(f"\n{checked.report.format()}")
    if checked.dotation and checked.funding:
        _say(f"\n{describe_totals(checked.dotation, checked.funding)}")
    if not checked.ok:
        raise InvalidWorkbookError(checked.verdict())
    _say(f"\n{checked.verdict()}")


@cli.command("modeles", short_help="Liste et vérifie les modèles.")
@click.option(
    "-m", "--modeles", type=PATH, metavar="DOSSIER", default=None,
    help="Votre dossier de modèles (les modèles qu'il n'a pas sont pris parmi les modèles fournis).",
)
def templates_command(modeles: Path | None) -> None:
    """Liste les modèles utilisés (les vôtres ou ceux fournis) et les vérifie tous, sans
    classeur : syntaxe, variables, filtres, balises et essai de remplissage."""
    from dotation_docs import pipeline
    from dotation_docs.summary import describe_template_set

    templates, checked = pipeline.check_template_folder(modeles)
    for line in describe_template_set(templates, checked):
        _say(line)
    if not checked.ok:
        n = len(checked.problems)
        raise TemplateError(f"{n} {'problème' if n == 1 else 'problèmes'} dans les modèles : corrigez-les puis relancez.")


@cli.command("generer", short_help="Génère tout le lot de documents.")
@workbook_argument
@output_option
@templates_option
@overwrite_option
@pdf_option
@pdfa_option
@soffice_option
@jobs_option
@_quiet_option(_BATCH_NOTES)
def generate_command(classeur: Path, sortie: Path, modeles: Path | None, ecraser: bool, pdf: bool, pdfa: bool,
                     soffice: str | None, jobs: int | None, quiet: bool) -> None:
    """Génère tout le lot : conventions, procès-verbaux, communiqué et demande de subvention.

    Les fichiers que vous ajoutez dans le dossier de sortie ne sont jamais touchés.
    """
    _quiet(quiet)
    jobs = jobs or default_jobs()
    with read_ahead(classeur, jobs) as ahead:
        from dotation_docs import pipeline

        _report(pipeline.generate_batch(classeur, sortie, modeles, ecraser, _pdf_options(pdf, pdfa, soffice), jobs,
                                        _progress(quiet), ahead), quiet)


@cli.command("convention", short_help="Régénère les documents d'un bénéficiaire.")
@workbook_argument
@click.argument("beneficiaire", metavar="BENEFICIAIRE")
@output_option
@templates_option
@overwrite_option
@pdf_option
@pdfa_option
@soffice_option
@jobs_option
@_quiet_option("dossier de demande qui n'est plus à jour, document signé qui a changé…")
def convention_command(classeur: Path, beneficiaire: str, sortie: Path, modeles: Path | None, ecraser: bool,
                       pdf: bool, pdfa: bool, soffice: str | None, jobs: int | None, quiet: bool) -> None:
    """Régénère la convention et le procès-verbal d'un seul bénéficiaire.

    BENEFICIAIRE est son identifiant (ex. B01), son nom (accents et majuscules
    ignorés) ou une partie de son nom propre à lui seul. Les autres fichiers ne sont
    pas modifiés.
    """
    _quiet(quiet)
    jobs = jobs or default_jobs()
    with read_ahead(classeur, jobs) as ahead:
        from dotation_docs import pipeline

        _report(pipeline.generate_beneficiary(classeur, beneficiaire, sortie, modeles, ecraser,
                                              _pdf_options(pdf, pdfa, soffice), jobs, _progress(quiet), ahead), quiet)


@cli.command("demande", short_help="Génère le dossier de demande de subvention.")
@workbook_argument
@output_option
@templates_option
@overwrite_option
@pdf_option
@pdfa_option
@soffice_option
@jobs_option
@_quiet_option(_BATCH_NOTES)
def claim_command(classeur: Path, sortie: Path, modeles: Path | None, ecraser: bool, pdf: bool, pdfa: bool,
                  soffice: str | None, jobs: int | None, quiet: bool) -> None:
    """Génère le dossier de demande de versement de la subvention de l'État.

    Avec --pdf, écrit aussi demande-subvention/dossier-demande-subvention.pdf : les pièces
    de la demande, chaque procès-verbal de remise, puis les PDF que vous avez mis dans
    demande-subvention/pieces-jointes/.
    """
    _quiet(quiet)
    jobs = jobs or default_jobs()
    with read_ahead(classeur, jobs) as ahead:
        from dotation_docs import pipeline

        _report(pipeline.generate_claim(classeur, sortie, modeles, ecraser, _pdf_options(pdf, pdfa, soffice), jobs,
                                        _progress(quiet), ahead), quiet)


@cli.command("etat", short_help="Montre où en est le lot : documents à jour, périmés, signés.")
@workbook_argument
@click.option(
    "-o", "--sortie", type=PATH, metavar="DOSSIER", default=DEFAULT_OUTPUT, show_default=True,
    help="Dossier du lot à examiner (rien n'y est écrit).",
)
@click.option(
    "-m", "--modeles", type=PATH, metavar="DOSSIER", default=None,
    help="Dossier des modèles utilisés pour générer le lot (par défaut : les modèles fournis).",
)
def status_command(classeur: Path, sortie: Path, modeles: Path | None) -> None:
    """Montre, pour chaque bénéficiaire, ses documents (à jour, périmés parce que le
    classeur ou le modèle a changé, manquants, modifiés à la main, et leurs PDF) et ce qui
    est signé (colonnes « Date de signature » de la feuille Bénéficiaires), puis les
    documents de l'opération et un résumé. Ne modifie rien dans le dossier de sortie.

    Exemple : dotation etat operation-2025.xlsx -o lot
    """
    from dotation_docs import status
    from dotation_docs.summary import describe_status

    for line in describe_status(status.read_status(classeur, sortie, modeles)):
        _say(line)


@cli.command("nouveau", short_help="Crée un classeur vierge prêt à remplir.")
@click.argument("fichier", metavar="FICHIER", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Remplace FICHIER s'il existe déjà (son contenu est perdu).")
def new_command(fichier: Path, force: bool) -> None:
    """Crée FICHIER, un classeur Excel vierge prêt à remplir pour une nouvelle opération.

    Le classeur contient les feuilles Opération, Bénéficiaires, Matériel et Factures avec
    tous leurs en-têtes, des listes déroulantes (catégorie, type de bénéficiaire, civilité,
    type de convention…), des contrôles de saisie (dates, montants positifs, taux) et une
    feuille « Aide » qui explique chaque colonne et les règles vérifiées. Un fichier
    existant n'est jamais remplacé, sauf avec --force.

    Exemple : dotation nouveau operation-2025.xlsx
    """
    from dotation_docs.blank_workbook import write_blank_workbook  # openpyxl: imported when needed

    path = write_blank_workbook(fichier, force=force)
    _say(f"Classeur vierge créé : {path}\nRemplissez-le, puis vérifiez-le : dotation verifier {path}")


def _report(written: pipeline.Written, quiet: bool = False) -> None:
    from dotation_docs.summary import describe_changes, describe_pdf, describe_totals, describe_written

    if quiet:
        # -q keeps what the agent must act on (a claim file removed or held back by an
        # unsigned record, leftovers): on stderr, the summary dropped
        for note in written.notes:
            _labelled("Attention :", "yellow", note, err=True)
        return
    for warning in written.warnings:
        _labelled("Avertissement –", "yellow", warning)
    for issue in written.report.warnings:
        _labelled("Avertissement –", "yellow", str(issue))
    if written.chosen is not None:
        _say(f"Bénéficiaire retenu : {written.chosen.identifier} « {written.chosen.name} ».")
    _say(describe_written(written.output, written.files, set(written.unchanged), len(written.kept_pdfs)))
    if written.pdf is not None:
        for line in describe_pdf(written.pdf):
            _say(line)
    for line in describe_changes(written.removed, written.foreign, pdf=written.pdf is not None):
        _say(line)
    _say(describe_totals(written.dotation, written.funding))
    for note in written.notes:
        _labelled("Attention :", "yellow", note)


def _terminate(signum: int, _frame: object) -> None:
    # SIGTERM (and SIGHUP) end the command like Ctrl-C does: clean-up code runs (the staging folder
    # is removed, the lock released); the file swap itself defers it to its end.
    raise SystemExit(128 + signum)


# What writing the command's own messages can meet (the terminal or file they go to).
_OUTPUT_ERRORS = {errno.EPIPE, errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _writing_messages(err: OSError) -> bool:
    """Whether ``err`` was raised writing the command's own messages (click's ``echo``, a
    stream's flush), not by the work itself (which says its errors in French)."""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and (tb.tb_frame.f_code.co_filename == click.utils.__file__
                               or tb.tb_frame.f_code.co_name in ("write", "flush"))


def _stop_lost_in_a_callback(unraisable: Any) -> None:
    """``sys.unraisablehook``: a stop (Ctrl-C, SIGTERM, SIGHUP) raised while Python ran a
    callback whose exceptions it ignores (a weak reference's, a finaliser, an import lock's
    clean-up) would be printed as « Exception ignored… » and lost, the command going on.
    The signal is sent again a moment later, from a thread: sent from here, it would be
    handled at once, inside this hook, and lost again."""
    exc = unraisable.exc_value
    stops = {128 + s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM))}
    if isinstance(exc, KeyboardInterrupt):
        signum = int(signal.SIGINT)
    elif isinstance(exc, SystemExit) and exc.code in stops:
        signum = exc.code - 128  # type: ignore[operator]
    else:
        sys.__unraisablehook__(unraisable)
        return
    again = threading.Timer(0.05, os.kill, (os.getpid(), signum))
    again.daemon = True
    again.start()


def install_stop_handlers() -> None:
    """SIGTERM and SIGHUP end the command as Ctrl-C does; no stop is lost in a callback."""
    signal.signal(signal.SIGTERM, _terminate)
    if hasattr(signal, "SIGHUP"):  # the terminal closed: the same clean end
        signal.signal(signal.SIGHUP, _terminate)
    sys.unraisablehook = _stop_lost_in_a_callback


def main() -> None:
    """Console-script entry point."""
    install_stop_handlers()
    try:
        cli(prog_name="dotation")
    except SystemExit as done:  # click always ends this way
        if isinstance(done.code, int) and done.code > 128 and sys.stderr is not None:  # SIGTERM, SIGHUP
            stopped = _stopped()
            if stopped:
                with contextlib.suppress(OSError, ValueError):
                    sys.stderr.write(stopped + "\n")
        _exit(done.code)
    except OSError as err:  # the messages themselves cannot be written: a full disk, a closed pipe
        if err.errno not in _OUTPUT_ERRORS or not _writing_messages(err):
            raise
        if err.errno != errno.EPIPE and sys.stderr is not None:  # a reader that stopped reading: nothing to say
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"Erreur : les messages de la commande ne peuvent pas être écrits : "
                                 f"{describe_os_error(err)}.\n")
        _exit(1)
    _exit(0)


def _exit(code: object) -> None:
    """End the process as :func:`sys.exit` does (exit handlers run, output flushed,
    ``code`` as the exit status), without the interpreter's final clean-up: it frees,
    one by one, every object of the run (a national workbook's model, the compiled
    templates), which took half a second after a large batch."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message")
        if sys.stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # logging's flush, multiprocessing's and weakref.finalize's clean-up
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: started with that stream closed
            with contextlib.suppress(OSError, ValueError):  # a closed pipe, a full disk: nothing more can be said
                stream.flush()
    os._exit(status)
