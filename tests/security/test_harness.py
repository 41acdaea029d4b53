"""The harness itself: a canary readable on the host is invisible inside."""


def test_host_canary_is_invisible(check_attack, tmp_path):
    canary = tmp_path / "secret.txt"
    canary.write_text("host secret\n")
    canary.chmod(0o644)
    tmp_path.chmod(0o755)
    check_attack("read_host_file.py", canary)
