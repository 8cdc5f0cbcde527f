"""A hostile or careless hand in the output folder: symbolic links, folders listed in the
manifest, hidden files named like the tool's, paths the user cannot enter, and
templates that try to exhaust the time or the memory.

The tool replaces or removes only regular files reached through real folders of the
output folder, removes only the leftovers it creates itself, and says everything in
French without a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import SAMPLE, TEMPLATES

from dotation_docs import outputdir
from dotation_docs.cli import cli
from dotation_docs.exceptions import OutputError
from dotation_docs.pipeline import generate_batch

ROOT = Path(__file__).resolve().parent.parent
B02_CONVENTION = "conventions/B02-convention-sport-loisirs-de-l-aurence.docx"


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("hostile") / "lot"
    generate_batch(SAMPLE, output, TEMPLATES)
    return output


@pytest.fixture
def batch(generated: Path, tmp_path: Path) -> Path:
    """A private copy of the sample batch."""
    return Path(shutil.copytree(generated, tmp_path / "lot", symlinks=True))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def add_entry(batch: Path, path: str, digest: str, kind: str = "convention", beneficiary: str = "B01") -> None:
    manifest_path = batch / "manifeste.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["documents"].append({"type": kind, "beneficiaire": beneficiary, "fichier": path, "sha256": digest})
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")


def listed(batch: Path) -> set[str]:
    return {d["fichier"] for d in json.loads((batch / "manifeste.json").read_text(encoding="utf-8"))["documents"]}


# --- F1: never through a symbolic link ----------------------------------------------------------


def test_an_entry_through_a_symlinked_folder_never_deletes_the_file_outside(runner, batch: Path, tmp_path: Path) -> None:
    outside = tmp_path / "partage"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (batch / "conventions" / "out").symlink_to(outside, target_is_directory=True)
    add_entry(batch, "conventions/out/victim.txt", sha256(victim))
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch)])
    assert result.exit_code == 0, result.output
    assert victim.read_text(encoding="utf-8") == "precious"
    assert (batch / "conventions" / "out").is_symlink()
    assert "Ancien lot" not in result.output
    assert ("Attention : l'outil n'a ni supprimé ni suivi ce fichier d'un lot précédent, qu'il ne peut plus "
            "remplacer : « conventions/out/victim.txt » passe par « conventions/out », qui est un lien symbolique. "
            "Le manifeste ne le liste plus ; supprimez-le vous-même s'il ne sert plus.") in result.output
    assert "conventions/out/victim.txt" not in listed(batch)


def test_an_entry_that_is_itself_a_symlink_is_left_alone(runner, batch: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim.docx"
    victim.write_bytes(b"precious")
    link = batch / "conventions" / "B01-lien.docx"
    link.symlink_to(victim)
    add_entry(batch, "conventions/B01-lien.docx", sha256(victim))
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch), "--ecraser"])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and victim.read_bytes() == b"precious"
    assert "« conventions/B01-lien.docx » est un lien symbolique" in result.output
    assert "Ancien lot" not in result.output
    # a previous document, said as such: not among the files added to the tool's folders
    assert "Fichiers ajoutés" not in result.output, result.output


def test_documents_are_never_written_through_a_symlinked_type_folder(runner, batch: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "ailleurs"
    shutil.move(batch / "communique", elsewhere)
    (batch / "communique").symlink_to(elsewhere, target_is_directory=True)
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    for p in elsewhere.iterdir():
        p.write_bytes(b"copie du partage")
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch), "--ecraser"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Erreur : des documents à écrire ne peuvent pas être mis en place dans « {batch} » : ")
    assert "« communique » est un lien symbolique (vers « " in result.output
    assert "pas un vrai dossier : 4 documents du lot y vont (« communique/" in result.output
    assert "Rien n'a été écrit." in result.output and "Traceback" not in result.output
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == {name: b"copie du partage" for name in before}


def test_replace_files_refuses_a_target_through_a_link(tmp_path: Path) -> None:
    """The low level refuses too, whoever calls it."""
    output = tmp_path / "sortie"
    output.mkdir()
    outside = tmp_path / "dehors"
    outside.mkdir()
    (outside / "x.docx").write_bytes(b"precious")
    (output / "conventions").symlink_to(outside, target_is_directory=True)
    with pytest.raises(OutputError, match="« conventions/x.docx » passe par « conventions », qui est un lien symbolique"):
        outputdir.replace_files(output, [("manifeste.json", b"{}")], ["conventions/x.docx"])
    with pytest.raises(OutputError, match="lien symbolique"):
        outputdir.replace_files(output, [("conventions/x.docx", b"new"), ("manifeste.json", b"{}")], [])
    assert (outside / "x.docx").read_bytes() == b"precious"
    assert not (output / "manifeste.json").exists()


def _journal(output: Path, staging: str, operations: list[dict]) -> None:
    (output / outputdir.JOURNAL_NAME).write_text(json.dumps({
        "version": outputdir.JOURNAL_VERSION, "staging": staging, "operations": operations, "created_dirs": [],
        "commit_target": "manifeste.json", "commit_sha256": "0" * 64, "previous_commit_sha256": None,
    }), encoding="utf-8")


def test_a_journal_target_through_a_link_is_never_acted_upon(tmp_path: Path) -> None:
    output = tmp_path / "sortie"
    (output / "conventions").mkdir(parents=True)
    outside = tmp_path / "dehors"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    (output / "conventions" / "out").symlink_to(outside, target_is_directory=True)
    staging = ".dotation-staging-abc12345"
    (output / staging / "old").mkdir(parents=True)
    (output / staging / "old" / "1").write_bytes(b"backup")
    _journal(output, staging, [
        # "a new file with no previous version": the rollback would unlink it
        {"target": "conventions/out/victim.txt", "new": "new/0", "backup": "old/0", "existed": False},
        # a backup to put back: it would land outside
        {"target": "conventions/out/other.txt", "new": "new/1", "backup": "old/1", "existed": True},
    ])
    with outputdir.locked(output):
        pass
    assert victim.read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
    assert not (output / outputdir.JOURNAL_NAME).exists()


def test_a_journal_whose_staging_folder_is_a_link_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "sortie"
    output.mkdir()
    outside = tmp_path / "dehors"
    (outside / "old").mkdir(parents=True)
    (outside / "old" / "0").write_bytes(b"precious")
    staging = ".dotation-staging-abc12345"
    (output / staging).symlink_to(outside, target_is_directory=True)
    _journal(output, staging, [{"target": "conventions.docx", "new": "new/0", "backup": "old/0", "existed": True}])
    with pytest.raises(OutputError, match="est endommagé"), outputdir.locked(output):
        pass
    assert (outside / "old" / "0").read_bytes() == b"precious"
    assert not (output / "conventions.docx").exists()


# --- F2: a folder is never a document ------------------------------------------------------------


def test_an_entry_naming_a_folder_is_never_removed_even_with_ecraser(runner, batch: Path) -> None:
    sub = batch / "conventions" / "sub"
    sub.mkdir()
    (sub / "scan-signe.pdf").write_bytes(b"scan")
    add_entry(batch, "conventions/sub", "0")
    plain = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch)])
    assert plain.exit_code == 0, plain.output
    assert "Modifiés depuis leur génération" not in plain.output
    assert "Ancien lot" not in plain.output
    assert "« conventions/sub » est un dossier, pas un document" in plain.output
    assert (sub / "scan-signe.pdf").read_bytes() == b"scan"
    add_entry(batch, "conventions/sub", "0")
    forced = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch), "--ecraser"])
    assert forced.exit_code == 0, forced.output
    assert "Ancien lot" not in forced.output
    assert (sub / "scan-signe.pdf").read_bytes() == b"scan"
    assert "Fichiers ajoutés dans les dossiers de l'outil, laissés en place : 1 (conventions/sub/scan-signe.pdf)." \
        in forced.output


def test_a_folder_where_a_document_goes_stops_the_run(runner, batch: Path) -> None:
    (batch / B02_CONVENTION).unlink()
    (batch / B02_CONVENTION).mkdir()
    (batch / B02_CONVENTION / "note.txt").write_text("x", encoding="utf-8")
    result = runner.invoke(cli, ["convention", str(SAMPLE), "B02", "-o", str(batch), "--ecraser"])
    assert result.exit_code == 1
    assert f"« {B02_CONVENTION} » est un dossier, pas un document" in result.output
    assert (batch / B02_CONVENTION / "note.txt").exists()


# --- F3: paths the user cannot reach ---------------------------------------------------------------


def _deny_stat(monkeypatch: pytest.MonkeyPatch, denied: Path) -> None:
    """What ``stat`` gives under a folder the user cannot enter (root can enter any)."""
    real = os.stat

    def stat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        p = Path(os.fsdecode(path)) if not isinstance(path, int) else None
        if p is not None and (p == denied or denied in p.parents):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)


@pytest.mark.parametrize("command", [["generer"], ["convention", "B02"], ["demande"]])
def test_an_output_folder_that_cannot_be_reached_is_one_french_sentence(
    runner, tmp_path: Path, monkeypatch, command: list[str]
) -> None:
    output = tmp_path / "interdit" / "x" / "y"
    _deny_stat(monkeypatch, tmp_path / "interdit" / "x")
    args = [command[0], str(SAMPLE), *command[1:], "-o", str(output)]
    result = runner.invoke(cli, args)
    assert (result.exit_code, result.output) == (
        1, f"Erreur : impossible d'accéder au dossier de sortie « {output} » : accès refusé (droits insuffisants).\n"
    )


@pytest.mark.parametrize("command", [["generer", str(SAMPLE), "-o", "SORTIE"], ["verifier", str(SAMPLE)], ["modeles"]])
def test_a_templates_folder_that_cannot_be_reached_is_one_french_sentence(
    runner, tmp_path: Path, monkeypatch, command: list[str]
) -> None:
    templates = tmp_path / "interdit" / "modeles"
    _deny_stat(monkeypatch, tmp_path / "interdit" / "modeles")
    args = [str(tmp_path / "sortie") if a == "SORTIE" else a for a in command] + ["-m", str(templates)]
    result = runner.invoke(cli, args)
    assert (result.exit_code, result.output) == (
        1, f"Erreur : impossible d'accéder au dossier de modèles « {templates} » : accès refusé (droits insuffisants).\n"
    )
    assert not (tmp_path / "sortie").exists()


def test_a_workbook_that_cannot_be_reached_is_one_french_sentence(runner, tmp_path: Path, monkeypatch) -> None:
    workbook = tmp_path / "interdit" / "classeur.xlsx"
    _deny_stat(monkeypatch, workbook)
    result = runner.invoke(cli, ["generer", str(workbook), "-o", str(tmp_path / "sortie")])
    assert (result.exit_code, result.output) == (
        1, f"Erreur : Le fichier « {workbook} » n'a pas pu être ouvert : accès refusé (droits insuffisants).\n"
    )


def test_an_output_that_is_a_dangling_link_is_said(runner, tmp_path: Path) -> None:
    link = tmp_path / "sortie"
    link.symlink_to(tmp_path / "disparu")
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(link)])
    assert (result.exit_code, result.output) == (
        1, f"Erreur : « {link} » est un lien symbolique qui ne mène à aucun dossier existant : indiquez avec -o un "
        "dossier de sortie, ou recréez le dossier vers lequel il pointe.\n"
    )


# --- F4: click does not check readability ----------------------------------------------------------


def test_click_does_not_check_readability(runner, tmp_path: Path, monkeypatch) -> None:
    """click.Path would answer « is not readable », exit 2 with a usage block; the
    pipeline's own checks run instead (here everything is readable: the run succeeds)."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, *a, **k: False if mode & os.R_OK else real(path, mode, *a, **k))
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "o"), "-m", str(TEMPLATES)])
    assert result.exit_code == 0, result.output
    assert "readable" not in result.output and "Utilisation" not in result.output


def test_path_options_are_described_in_french(runner) -> None:
    for command in ("generer", "convention", "demande"):
        result = runner.invoke(cli, [command, "--help"])
        assert "-o, --sortie DOSSIER" in result.output and "-m, --modeles DOSSIER" in result.output
        assert "par défaut :" in result.output and "PATH" not in result.output and "default:" not in result.output


def _as_nobody() -> list[str]:
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the command as an unprivileged user")
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def _run_as_nobody(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(cwd)}
    return subprocess.run(_as_nobody() + [sys.executable, "-m", "dotation_docs", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def public_dir():  # type: ignore[no-untyped-def]
    """A folder an unprivileged user can enter (pytest's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="dotation-nobody-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.slow
def test_real_unprivileged_user_gets_french_sentences(tmp_path: Path, public_dir: Path) -> None:
    """The hostile tester's commands, run for real as ``nobody``."""
    probe = _run_as_nobody(["--version"], public_dir)
    if probe.returncode != 0:
        pytest.skip(f"nobody cannot run this Python: {probe.stderr[-200:]}")
    unreadable = public_dir / "noread.xlsx"
    shutil.copy(SAMPLE, unreadable)
    unreadable.chmod(0)
    closed = public_dir / "nr"
    closed.mkdir()
    closed.chmod(0)
    cases = [
        (["verifier", str(unreadable)],
         f"Erreur : Le fichier « {unreadable} » n'a pas pu être ouvert : accès refusé (droits insuffisants).\n"),
        (["generer", str(SAMPLE), "-o", str(tmp_path / "x" / "y")],
         f"Erreur : impossible d'accéder au dossier de sortie « {tmp_path / 'x' / 'y'} » : accès refusé "
         "(droits insuffisants).\n"),
        (["convention", str(SAMPLE), "B01", "-o", str(tmp_path / "x")],
         f"Erreur : impossible d'accéder au dossier de sortie « {tmp_path / 'x'} » : accès refusé "
         "(droits insuffisants).\n"),
        (["generer", str(SAMPLE), "-o", str(public_dir / "o"), "-m", str(tmp_path / "tpl")],
         f"Erreur : impossible d'accéder au dossier de modèles « {tmp_path / 'tpl'} » : accès refusé "
         "(droits insuffisants).\n"),
        (["generer", str(SAMPLE), "-o", str(public_dir / "o"), "-m", str(closed)],
         f"Erreur : le dossier de modèles « {closed} » est illisible : accès refusé (droits insuffisants).\n"),
        (["generer", str(SAMPLE), "-o", str(closed)],
         f"Erreur : impossible de verrouiller le dossier de sortie « {closed} » : accès refusé (droits insuffisants).\n"),
    ]
    for args, expected in cases:
        result = _run_as_nobody(args, public_dir)
        assert (result.returncode, result.stderr) == (1, expected), (args, result.stdout, result.stderr)
    assert not (public_dir / "o").exists()


def test_a_lost_manifest_with_identical_files_is_not_a_conflict(runner, batch: Path) -> None:
    """Output is deterministic: files with the very bytes to write lose nothing."""
    (batch / "manifeste.json").unlink()
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch)])
    assert result.exit_code == 0, result.output
    assert "ne viennent pas de l'outil" not in result.output
    assert B02_CONVENTION in listed(batch)


# --- F5: only the tool's own leftovers are removed --------------------------------------------------


def test_the_agents_dotation_named_files_survive_and_real_leftovers_are_said(runner, batch: Path) -> None:
    shutil.copytree(batch / "conventions", batch / ".dotation-sauvegarde")
    (batch / ".dotation-config.txt").write_text("x", encoding="utf-8")
    (batch / ".dotation-archives").mkdir()  # the old 8-character pattern, but not the tool's layout
    (batch / ".dotation-archives" / "mai.docx").write_bytes(b"x")
    (batch / ".dotation-staging-notes").mkdir()  # the staging pattern, not its layout
    (batch / ".dotation-staging-notes" / "a-garder.txt").write_bytes(b"x")
    leftover = batch / ".dotation-staging-abc12345"
    (leftover / "new").mkdir(parents=True)
    (leftover / "new" / "0").write_bytes(b"half written")
    (batch / ".dotation-journal.json.tmp").write_bytes(b"{")
    agents = sorted(p.name for p in batch.iterdir() if p.name.startswith(".dotation-") and "abc" not in p.name
                    and not p.name.endswith(".tmp"))
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(batch)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in batch.iterdir() if p.name.startswith(".dotation")) == agents
    assert (batch / ".dotation-sauvegarde" / Path(B02_CONVENTION).name).exists()
    assert ("Attention : les fichiers temporaires d'un lancement interrompu ont été supprimés "
            "(.dotation-journal.json.tmp, .dotation-staging-abc12345).") in result.output


# --- The sandbox: no computation that exhausts the time or the memory --------------------------------

_RENDER = """
import resource, sys
from datetime import datetime
resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))
from dotation_docs.exceptions import TemplateError
from dotation_docs.rendering import LoadedTemplate, render
template = LoadedTemplate("communique-de-presse.html", None, sys.argv[1].encode())
try:
    render(template, {}, title="t", timestamp=datetime(2023, 1, 1))
except TemplateError as err:
    print(err.message)
"""


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("{{ 10 ** (10 ** 10) }}", "un nombre de plus de 3 000 chiffres"),
        ("{{ 2 ** 100000 }}", "un nombre de plus de 3 000 chiffres"),
        ("{% set n = 10 ** 2000 %}{{ n * n }}", "un nombre de plus de 3 000 chiffres"),
        ("{{ 'x' * 10 ** 10 }}", "un texte ou une liste de plus d'un million"),
        ("{{ 10 ** 10 * 'x' }}", "un texte ou une liste de plus d'un million"),
        ("{{ [0] * 10 ** 10 }}", "un texte ou une liste de plus d'un million"),
        ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
         "un texte ou une liste de plus d'un million"),
        ("{{ range(10 ** 9) | list }}", "range() produirait 1000000000 éléments, plus que les 100000 permis"),
        ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
         "les boucles sur range() dépasseraient 1000000 tours en tout dans ce modèle"),
        ("{{ 'ab' | center(10 ** 8) }}", "le filtre « center » recevrait une largeur de plus d'un million"),
        ("{{ 'ab' | indent(10 ** 8) }}", "le filtre « indent » recevrait une largeur de plus d'un million"),
        ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "une macro s'appelle elle-même sans fin"),
        ("{{ 'a'.format }}", "une expression affiche une fonction au lieu d'une valeur"),
    ],
)
def test_huge_computations_are_refused_at_once(payload: str, reason: str) -> None:
    result = subprocess.run([sys.executable, "-c", _RENDER, payload], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.startswith("le modèle « communique-de-presse.html » ne peut pas être rempli (ligne 1) : ")
    assert reason in result.stdout


def test_ordinary_arithmetic_and_repetition_still_work() -> None:
    from datetime import datetime

    from dotation_docs.rendering import LoadedTemplate, render

    source = ("{{ 2 ** 10 }} {{ '-' * 3 }}{{ 3 * '=' }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 1.5 * 2 }} {{ range(3) | list }}"
              " {{ 'ab' | center(4) }}|{{ 'a{}'.format(1) }}")
    out = render(LoadedTemplate("communique-de-presse.html", Path("x"), source.encode()), {}, title="t",
                 timestamp=datetime(2023, 1, 1))
    assert out.decode("utf-8") == "1024 ---=== ab [1, 2] 3.0 [0, 1, 2]  ab |a1"


def test_a_huge_computation_in_a_template_folder_stops_generer(runner, tmp_path: Path) -> None:
    templates = tmp_path / "modeles"
    templates.mkdir()
    # Just over the limit (without it, this one would be written: 2 Mo of « x »).
    (templates / "communique-de-presse.html").write_text("<p>{{ 'x' * 2000000 }}</p>", encoding="utf-8")
    result = runner.invoke(cli, ["generer", str(SAMPLE), "-o", str(tmp_path / "o"), "-m", str(templates)])
    assert result.exit_code == 1
    assert "communique-de-presse.html" in result.output and "plus d'un million" in result.output
    assert not (tmp_path / "o").exists()
