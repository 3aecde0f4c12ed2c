"""Password sign-in checked against an LDAP directory (engine/people/external_sign_in.py).

The directory is a real OpenLDAP `slapd` (Debian package `slapd`; `make slapd` installs it),
started here on a free port with a temporary configuration and a tiny LDIF. Without slapd the
tests skip locally and fail in CI (CI=true), as the PostgreSQL tests do.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from engine.config import LdapSettings, ldap_settings
from engine.data.models import Person, UserSession
from engine.people import accounts, external_sign_in

from .conftest import PASSWORD, sign_in

SUFFIX = "dc=example,dc=com"
DIRECTORY_PASSWORD = "directory pass 1"  # zhang's and li's password in the directory (not PASSWORD)
SCHEMAS = Path("/etc/ldap/schema")

LDIF = f"""dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: cn=reader,{SUFFIX}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: reader secret

""" + "".join(f"""dn: uid={uid},ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: {uid}
cn: {uid}
sn: {uid}
userPassword: {DIRECTORY_PASSWORD}

""" for uid in ("zhang", "li", "only_in_directory"))


def _slapd_unavailable(reason: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"slapd is required in CI: {reason}")
    pytest.skip(f"no LDAP server for these tests: {reason} (make slapd installs it)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _self_signed_certificate(home: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import ipaddress
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = home / "cert.pem", home / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _start_slapd(home: Path, tls: bool):
    """Start slapd under `home` (config, data, with `tls` a certificate and an ldaps port).

    Returns (process, (ldap port, ldaps port), certificate file)."""
    slapd = shutil.which("slapd") or ("/usr/sbin/slapd" if Path("/usr/sbin/slapd").exists() else None)
    slapadd = shutil.which("slapadd") or ("/usr/sbin/slapadd" if Path("/usr/sbin/slapadd").exists() else None)
    if slapd is None or slapadd is None or not (SCHEMAS / "inetorgperson.schema").exists():
        _slapd_unavailable("slapd, slapadd or the OpenLDAP schemas are not installed")
    (home / "db").mkdir()
    cert_file = None
    lines = [*(f"include {SCHEMAS / name}.schema" for name in ("core", "cosine", "inetorgperson")),
             "modulepath /usr/lib/ldap", "moduleload back_mdb", f"pidfile {home / 'slapd.pid'}"]
    if tls:
        cert_file, key_file = _self_signed_certificate(home)
        lines += [f"TLSCertificateFile {cert_file}", f"TLSCertificateKeyFile {key_file}"]
    lines += ["database mdb", "maxsize 10485760", f'suffix "{SUFFIX}"', f'rootdn "cn=admin,{SUFFIX}"',
              "rootpw admin-secret", f"directory {home / 'db'}", ""]
    config = home / "slapd.conf"
    config.write_text("\n".join(lines), encoding="utf-8")
    (home / "data.ldif").write_text(LDIF, encoding="utf-8")
    loaded = subprocess.run([slapadd, "-f", str(config), "-l", str(home / "data.ldif")],
                            capture_output=True, text=True)
    if loaded.returncode != 0:
        _slapd_unavailable(f"slapadd failed: {loaded.stderr.strip()[:300]}")
    port, tls_port = _free_port(), _free_port()
    urls = f"ldap://127.0.0.1:{port}/" + (f" ldaps://127.0.0.1:{tls_port}/" if tls else "")
    server = subprocess.Popen([slapd, "-f", str(config), "-h", urls, "-d", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(200):  # until it accepts connections
        if server.poll() is not None:
            _slapd_unavailable(f"slapd exited: {server.stderr.read().strip()[:300]}")
        try:
            for listening in (port, tls_port) if tls else (port,):
                socket.create_connection(("127.0.0.1", listening), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        server.kill()
        _slapd_unavailable("slapd did not start listening")
    return server, (port, tls_port), cert_file


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(10)
    server.stderr.close()


@pytest.fixture(scope="module")
def ldap_url(tmp_path_factory):
    """ldap://127.0.0.1:<port> of a slapd holding zhang, li and only_in_directory under ou=people."""
    server, (port, _tls_port), _cert = _start_slapd(tmp_path_factory.mktemp("slapd"), tls=False)
    yield f"ldap://127.0.0.1:{port}"
    _stop(server)


@pytest.fixture(scope="module")
def tls_ldap(tmp_path_factory):
    """(ldap:// URL, ldaps:// URL, CA file) of a slapd with StartTLS and ldaps, a self-signed certificate."""
    server, (port, tls_port), cert_file = _start_slapd(tmp_path_factory.mktemp("slapd_tls"), tls=True)
    yield f"ldap://127.0.0.1:{port}", f"ldaps://127.0.0.1:{tls_port}", str(cert_file)
    _stop(server)


def template_settings(url: str, **more) -> LdapSettings:
    return LdapSettings(url=url, user_dn=f"uid={{username}},ou=people,{SUFFIX}", timeout=5, **more)


def search_settings(url: str, **more) -> LdapSettings:
    return LdapSettings(url=url, search_base=f"ou=people,{SUFFIX}", search_filter="(uid={username})",
                        bind_dn=f"cn=reader,{SUFFIX}", bind_password="reader secret", timeout=5, **more)


def _page(response) -> str:
    body = re.sub(r'name="csrf_token"[^>]*value="[^"]+"', "", response.get_data(as_text=True))
    return re.sub(r'name="username"[^>]*value="[^"]*"', 'name="username"', body)


def test_settings_from_the_environment():
    assert ldap_settings({}) is None
    settings = ldap_settings({"LIAISON_LDAP_URL": "ldaps://ldap.example.com", "LIAISON_LDAP_USER_DN": "uid={username},o=x",
                              "LIAISON_LDAP_START_TLS": "1", "LIAISON_LDAP_LOCAL_FALLBACK": "yes",
                              "LIAISON_LDAP_TLS_VERIFY": "0", "LIAISON_LDAP_CA_FILE": "/etc/ssl/ca.pem"})
    assert settings.url == "ldaps://ldap.example.com" and settings.user_dn == "uid={username},o=x"
    assert settings.start_tls and settings.local_fallback and not settings.tls_verify
    assert settings.ca_file == "/etc/ssl/ca.pem" and settings.search_filter == "(uid={username})"
    assert not ldap_settings({"LIAISON_LDAP_URL": "ldap://x"}).local_fallback


@pytest.mark.parametrize("mode", ["template", "search", "anonymous search"])
def test_the_directory_password_signs_in_and_the_local_one_does_not(make_app, people, sessions, ldap_url, mode):
    settings = {"template": template_settings(ldap_url), "search": search_settings(ldap_url),
                "anonymous search": LdapSettings(url=ldap_url, search_base=f"ou=people,{SUFFIX}", timeout=5)}[mode]
    app = make_app(LIAISON_LDAP=settings)
    client = app.test_client()
    assert sign_in(client, "zhang", PASSWORD).status_code == 200  # the local password is not used
    response = sign_in(client, "zhang", DIRECTORY_PASSWORD, next="/password")
    assert response.status_code == 302 and response.headers["Location"] == "/password"
    assert client.get("/password").status_code == 200
    with sessions() as session:
        assert session.scalar(select(UserSession.id).where(UserSession.person_id == people["zhang"])) is not None


def test_unknown_names_wrong_passwords_and_directory_only_people_get_the_same_answer(make_app, people, ldap_url):
    app = make_app(LIAISON_LDAP=template_settings(ldap_url))
    pages = {}
    for name, password in (("zhang", "wrong password"), ("nobody", DIRECTORY_PASSWORD),
                           ("only_in_directory", DIRECTORY_PASSWORD)):
        client = app.test_client()
        response = sign_in(client, name, password)
        pages[name] = (response.status_code, _page(response))
        assert client.get("/password").status_code == 302  # not signed in
    assert pages["zhang"] == pages["nobody"] == pages["only_in_directory"]
    assert pages["zhang"][0] == 200 and "用户名或密码错误。" in pages["zhang"][1]


def test_an_empty_password_is_never_sent_to_the_directory(ldap_url, sessions, people):
    """An LDAP simple bind with a DN and no password is an unauthenticated bind that many servers accept."""
    settings = template_settings(ldap_url)
    assert external_sign_in.directory_password_ok(settings, "zhang", "") is False
    with sessions() as session, pytest.raises(accounts.InvalidCredentialsError):
        external_sign_in.authenticate_with_directory(session, settings, "zhang", "", datetime.now(UTC), "10.0.0.9")


def test_filter_and_dn_characters_in_the_name_are_escaped(ldap_url):
    for settings in (template_settings(ldap_url), search_settings(ldap_url)):
        assert external_sign_in.directory_password_ok(settings, "*", DIRECTORY_PASSWORD) is False
        assert external_sign_in.directory_password_ok(settings, "zhang)(uid=*", DIRECTORY_PASSWORD) is False
        assert external_sign_in.directory_password_ok(settings, "zhang,ou=people", DIRECTORY_PASSWORD) is False
        assert external_sign_in.directory_password_ok(settings, "zhang", DIRECTORY_PASSWORD) is True


def test_failures_are_throttled_as_local_passwords_are(make_app, people, ldap_url, monkeypatch):
    monkeypatch.setattr("web.auth._now", lambda: 2_000_000_000.0)
    app = make_app(LIAISON_LDAP=template_settings(ldap_url))
    answers = {}
    for name, address in (("zhang", "10.0.0.1"), ("nobody", "10.0.0.2")):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = address
        answers[name] = [(r.status_code, _page(r)) for r in (sign_in(client, name, "wrong password")
                                                             for _ in range(6))]
    assert answers["zhang"] == answers["nobody"]
    assert [status for status, _body in answers["zhang"]] == [200] * 5 + [429]
    guesser = app.test_client()
    guesser.environ_base["REMOTE_ADDR"] = "10.0.0.1"
    assert sign_in(guesser, "zhang", DIRECTORY_PASSWORD).status_code == 429  # even the right password waits
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert sign_in(owner, "zhang", DIRECTORY_PASSWORD).status_code == 302  # another client is not held up


def test_local_passwords_only_with_the_fallback_setting(make_app, people, ldap_url, sessions):
    with sessions() as session, session.begin():
        accounts.create_person_account(session, "zhao", "赵六", PASSWORD)  # not in the directory
        accounts.create_person_account(session, "qian", "钱七", None)  # no local password either
    strict = make_app(LIAISON_LDAP=template_settings(ldap_url))
    assert sign_in(strict.test_client(), "zhao", PASSWORD).status_code == 200
    lenient = make_app(LIAISON_LDAP=template_settings(ldap_url, local_fallback=True))
    assert sign_in(lenient.test_client(), "zhao", PASSWORD).status_code == 302
    assert sign_in(lenient.test_client(), "zhang", DIRECTORY_PASSWORD).status_code == 302
    assert sign_in(lenient.test_client(), "qian", PASSWORD).status_code == 200


def test_a_deactivated_person_is_refused_after_the_right_password(make_app, people, ldap_url, sessions):
    with sessions() as session, session.begin():
        session.execute(update(Person).where(Person.id == people["zhang"]).values(active=False))
    app = make_app(LIAISON_LDAP=template_settings(ldap_url))
    response = sign_in(app.test_client(), "zhang", DIRECTORY_PASSWORD)
    assert response.status_code == 200 and "此账号已停用" in response.get_data(as_text=True)


def test_an_unreachable_directory_is_said_so(make_app, people):
    down = LdapSettings(url=f"ldap://127.0.0.1:{_free_port()}", user_dn=f"uid={{username}},ou=people,{SUFFIX}",
                        timeout=2)
    response = sign_in(make_app(LIAISON_LDAP=down).test_client(), "zhang", PASSWORD)
    assert response.status_code == 503 and "无法连接公司目录服务" in response.get_data(as_text=True)
    fallback = make_app(LIAISON_LDAP=LdapSettings(url=down.url, user_dn=down.user_dn, timeout=2, local_fallback=True))
    assert sign_in(fallback.test_client(), "zhang", PASSWORD).status_code == 302


def test_a_search_account_that_cannot_bind_is_a_configuration_error_not_a_wrong_password(make_app, people, ldap_url):
    settings = LdapSettings(url=ldap_url, search_base=f"ou=people,{SUFFIX}", bind_dn=f"cn=reader,{SUFFIX}",
                            bind_password="not the reader's", timeout=5)
    with pytest.raises(external_sign_in.DirectoryUnavailableError):
        external_sign_in.directory_password_ok(settings, "zhang", DIRECTORY_PASSWORD)
    response = sign_in(make_app(LIAISON_LDAP=settings).test_client(), "zhang", DIRECTORY_PASSWORD)
    assert response.status_code == 503


def test_start_tls_checks_the_directory_certificate(tls_ldap):
    url, _ldaps_url, ca_file = tls_ldap
    dn = f"uid={{username}},ou=people,{SUFFIX}"
    trusted = LdapSettings(url=url, user_dn=dn, start_tls=True, ca_file=ca_file, timeout=5)
    assert external_sign_in.directory_password_ok(trusted, "zhang", DIRECTORY_PASSWORD) is True
    assert external_sign_in.directory_password_ok(trusted, "zhang", "wrong password") is False
    untrusted = LdapSettings(url=url, user_dn=dn, start_tls=True, timeout=5)  # the system CAs do not know it
    with pytest.raises(external_sign_in.DirectoryUnavailableError):
        external_sign_in.directory_password_ok(untrusted, "zhang", DIRECTORY_PASSWORD)
    unchecked = LdapSettings(url=url, user_dn=dn, start_tls=True, tls_verify=False, timeout=5)
    assert external_sign_in.directory_password_ok(unchecked, "zhang", DIRECTORY_PASSWORD) is True


def test_ldaps_checks_the_directory_certificate(tls_ldap):
    _url, ldaps_url, ca_file = tls_ldap
    dn = f"uid={{username}},ou=people,{SUFFIX}"
    assert external_sign_in.directory_password_ok(LdapSettings(url=ldaps_url, user_dn=dn, ca_file=ca_file, timeout=5),
                                                  "zhang", DIRECTORY_PASSWORD) is True
    with pytest.raises(external_sign_in.DirectoryUnavailableError):
        external_sign_in.directory_password_ok(LdapSettings(url=ldaps_url, user_dn=dn, timeout=5),
                                               "zhang", DIRECTORY_PASSWORD)


def test_with_the_directory_only_the_password_page_sends_people_to_the_directory(make_app, people, ldap_url,
                                                                                 sessions):
    client = make_app(LIAISON_LDAP=template_settings(ldap_url)).test_client()
    assert sign_in(client, "zhang", DIRECTORY_PASSWORD).status_code == 302
    page = client.get("/password").get_data(as_text=True)
    assert "公司目录服务" in page and 'name="current_password"' not in page
    client.post("/password", data={"current_password": PASSWORD, "new_password": "a new local pass 1",
                                   "confirm": "a new local pass 1"})
    with sessions() as session:  # nothing changed
        assert accounts._verify(session.get(Person, people["zhang"]).password_hash, PASSWORD)
    fallback = make_app(LIAISON_LDAP=template_settings(ldap_url, local_fallback=True)).test_client()
    assert sign_in(fallback, "zhang", PASSWORD).status_code == 302
    assert 'name="current_password"' in fallback.get("/password").get_data(as_text=True)
