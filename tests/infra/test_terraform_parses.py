"""Every .tf file parses (python-hcl2): no terraform binary can be installed here."""
import pytest

from conftest import ROOT, all_tf_files, load_tf_file

TF_FILES = all_tf_files()


def test_there_is_terraform_to_check():
    assert len(TF_FILES) >= 10, "terraform/ has (almost) no .tf files"


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_tf_file_parses(path):
    try:
        load_tf_file(path)
    except Exception as err:  # noqa: BLE001 - name the file and the parser's message
        pytest.fail(f"{path.relative_to(ROOT)} does not parse: {err}")
