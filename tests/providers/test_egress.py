"""The egress guard: what the server refuses to connect to on a tenant's behalf.

The test settings allowlist exactly 127.0.0.1 (the loopback provider servers). An "internal"
server listens on 127.0.0.2 at the same port: anything that reaches it is a hole in the guard.
DNS answers are played by a stand-in for ``providers.egress.resolve`` (the one lookup the
guarded connection makes), so a test can make a name resolve to anything, or change its answer
between two lookups.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from providers import egress
from providers.egress import EgressPolicy, url_problem
from providers.errors import EgressRefused, ProviderRejected
from providers.http import make_session, send
from providers.whatsapp.meta_cloud import MetaCloudWhatsApp
from tests.providers.loopback import LoopbackServer, Reply

TIMEOUT = (1.0, 2.0)


@pytest.fixture
def servers():
    """(allowed, internal): the same port on 127.0.0.1 (allowlisted) and 127.0.0.2 (not)."""
    with LoopbackServer() as allowed:
        port = int(allowed.url.rsplit(":", 1)[1])
        with LoopbackServer(host="127.0.0.2", port=port) as internal:
            for server, answer in ((allowed, "public answer"), (internal, "INTERNAL SECRET")):
                server.route("GET", "/thing", Reply(json={"answer": answer}))
                server.route("POST", "/thing", Reply(json={"answer": answer}))
            yield allowed, internal


@pytest.fixture
def dns(monkeypatch):
    """Make host names resolve to scripted answers; records every lookup."""
    answers: dict[str, list[list[str]]] = {}
    lookups: list[str] = []

    def resolve(host, port):
        lookups.append(host)
        script = answers[host]
        addresses = script.pop(0) if len(script) > 1 else script[0]
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(egress, "resolve", resolve)

    class Dns:
        def answer(self, host: str, *sequence: list[str]) -> None:
            answers[host] = list(sequence)

    dns = Dns()
    dns.lookups = lookups
    return dns


def port_of(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def fetch(url: str, method: str = "GET"):
    return send(method, url, provider="Test", timeout=TIMEOUT, session=make_session(retries=0))


# ----- the allowlist the test settings give the loopback servers


def test_the_loopback_servers_work_only_through_the_explicit_allowlist(servers, settings):
    allowed, _ = servers
    assert settings.PROVIDER_EGRESS_ALLOWLIST == ["127.0.0.1"]
    assert fetch(allowed.url + "/thing").json() == {"answer": "public answer"}
    settings.PROVIDER_EGRESS_ALLOWLIST = []
    with pytest.raises(EgressRefused, match="plain http"):
        fetch(allowed.url + "/thing")
    assert len(allowed.requests) == 1


# ----- internal addresses


@pytest.mark.parametrize("host", ["127.0.0.2", "[::1]", "localhost", "2130706434", "0x7f.0.0.2", "[::ffff:127.0.0.2]"])
def test_an_internal_address_is_refused_before_any_request(servers, host):
    _, internal = servers
    for scheme in ("http", "https"):
        with pytest.raises(EgressRefused) as caught:
            fetch(f"{scheme}://{host}:{port_of(internal)}/thing")
        assert caught.value.code == "egress_refused" and caught.value.fail_over
        assert "INTERNAL" not in str(caught.value)
    assert internal.requests == []


@pytest.mark.parametrize(
    "address",
    ["127.0.0.2", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
     "224.0.0.1", "240.0.0.1", "::1", "fd00:ec2::254", "fe80::1", "::ffff:10.0.0.1", "2002:7f00:2::1", "64:ff9b::a00:1"],
)
def test_a_name_that_resolves_to_an_internal_address_is_refused_at_connect(dns, servers, address):
    _, internal = servers
    dns.answer("api.provider.example", [address])
    with pytest.raises(EgressRefused, match="not on the public internet|metadata"):
        fetch(f"https://api.provider.example:{port_of(internal)}/thing")
    assert dns.lookups == ["api.provider.example"]
    assert internal.requests == []


def test_one_internal_address_among_the_answers_refuses_them_all(dns, servers):
    allowed, internal = servers
    dns.answer("mixed.example", ["127.0.0.1", "127.0.0.2"])
    with pytest.raises(EgressRefused):
        fetch(f"http://mixed.example:{port_of(allowed)}/thing")
    assert allowed.requests == [] and internal.requests == []


def test_metadata_addresses_are_refused_even_when_an_allowlisted_network_covers_them(dns, settings):
    settings.PROVIDER_EGRESS_ALLOWLIST = ["169.254.0.0/16", "fd00::/8", "metadata.example"]
    for name, address in (("a.example", "169.254.169.254"), ("b.example", "fd00:ec2::254"), ("metadata.example", "169.254.169.254")):
        dns.answer(name, [address])
        with pytest.raises(EgressRefused, match="metadata"):
            fetch(f"http://{name}/latest/meta-data/")
    with pytest.raises(EgressRefused):
        fetch("http://169.254.169.254/latest/meta-data/")


# ----- DNS rebinding: the address checked is the address connected to


def test_a_dns_answer_that_changes_after_the_check_never_reaches_the_internal_address(dns, servers):
    """The first answer is allowed, every later one is internal. A guard that checks one
    lookup and lets the socket library do another would connect to 127.0.0.2."""
    allowed, internal = servers
    dns.answer("rebind.example", ["127.0.0.1"], ["127.0.0.2"])
    session = make_session(retries=0)
    response = send("GET", f"http://rebind.example:{port_of(allowed)}/thing", provider="Test", timeout=TIMEOUT, session=session)
    assert response.json() == {"answer": "public answer"}
    assert dns.lookups == ["rebind.example"]  # one lookup, the one that was checked

    # A new connection looks up again and gets the internal answer: refused, not connected.
    with pytest.raises(EgressRefused):
        fetch(f"http://rebind.example:{port_of(allowed)}/thing")
    assert internal.requests == []
    assert len(allowed.requests) == 1


def test_an_answer_that_turns_internal_on_the_retry_is_refused_too(dns, servers):
    """Connection retries look up again; each lookup is checked."""
    allowed, internal = servers
    allowed.queue(Reply(status=503))
    dns.answer("flip.example", ["127.0.0.1"], ["127.0.0.2"])
    session = make_session(retries=2, backoff_factor=0)
    # The 503 is retried on a new connection only if the pooled one is gone; force that.
    session.headers["Connection"] = "close"
    with pytest.raises(EgressRefused):
        send("GET", f"http://flip.example:{port_of(allowed)}/thing", provider="Test", timeout=TIMEOUT, session=session)
    assert internal.requests == []


# ----- redirects


def test_a_redirect_to_an_internal_address_is_not_followed(servers):
    allowed, internal = servers
    allowed.route("GET", "/moved", Reply(status=302, headers={"Location": f"http://127.0.0.2:{port_of(internal)}/thing"}))
    response = fetch(allowed.url + "/moved")
    assert response.status_code == 302
    assert internal.requests == []


def test_an_adapter_that_meets_a_redirect_reports_a_sanitized_error(servers):
    allowed, internal = servers
    allowed.route("GET", "/v21.0/1234", Reply(status=307, headers={"Location": f"http://127.0.0.2:{port_of(internal)}/thing"}))
    adapter = MetaCloudWhatsApp(
        config={"phone_number_id": "1234", "api_version": "v21.0", "base_url": allowed.url, "read_timeout": 2},
        credentials={"access_token": "EAAG-secret-token-123456", "app_secret": "app-secret-123456"},
    )
    health = adapter.test_connection()
    assert health.status == "down" and "307" in health.detail
    assert "INTERNAL" not in health.detail and "127.0.0.2" not in health.detail
    assert internal.requests == []


# ----- plain http and other URL shapes


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://api.example.com/x", "must use https"),
        ("ftp://api.example.com/x", "https://"),
        ("file:///etc/passwd", "https://"),
        ("gopher://127.0.0.1:6379/_INFO", "https://"),
        ("https://user:pass@api.example.com/", "user name or password"),
        ("https://api.example.com:99999/", "not a valid URL"),
        ("https://api.example.com/\r\nX-Injected: 1", "control characters"),
        ("https:///nohost", "must name a host"),
        ("https://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("https://sub.localhost/", "this server"),
        ("https://" + "a" * 2100 + ".example/", "longer than"),
    ],
)
def test_urls_the_guard_refuses_before_any_lookup(dns, settings, url, problem):
    settings.PROVIDER_EGRESS_ALLOWLIST = ["bridge.internal"]
    with pytest.raises(EgressRefused, match=problem):
        fetch(url)
    assert dns.lookups == []


def test_plain_http_to_a_public_host_that_is_not_allowlisted_is_refused(dns):
    """With a network in the allowlist, a name may resolve into it, so the connection decides:
    a public address over plain http is refused there."""
    dns.answer("api.example.com", ["93.184.215.14"])
    with pytest.raises(EgressRefused, match="plain http"):
        fetch("http://api.example.com/x")
    assert dns.lookups == ["api.example.com"]


def test_allowlisted_host_names_and_networks_may_use_plain_http_to_private_addresses(dns, servers, settings):
    allowed, internal = servers
    settings.PROVIDER_EGRESS_ALLOWLIST = ["bridge.internal"]
    dns.answer("bridge.internal", ["127.0.0.1"])
    assert fetch(f"http://bridge.internal:{port_of(allowed)}/thing").json() == {"answer": "public answer"}
    settings.PROVIDER_EGRESS_ALLOWLIST = ["127.0.0.1/32"]
    dns.answer("waha", ["127.0.0.1"])
    assert fetch(f"http://waha:{port_of(allowed)}/thing").status_code == 200
    dns.answer("elsewhere", ["127.0.0.2"])
    with pytest.raises(EgressRefused):
        fetch(f"http://elsewhere:{port_of(internal)}/thing")
    assert internal.requests == []


def test_no_proxy_from_the_environment_is_used(monkeypatch, servers):
    allowed, _ = servers
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.2:1")
    monkeypatch.setenv("http_proxy", "http://127.0.0.2:1")
    assert fetch(allowed.url + "/thing").status_code == 200


# ----- the policy itself


def test_policy_parsing_and_bad_entries():
    policy = EgressPolicy.parse("Bridge.Internal., 10.0.0.0/8, 192.168.1.5, [fd12::1]")
    assert policy.hostnames == frozenset({"bridge.internal"})
    assert ipaddress.ip_address("10.9.9.9") in policy.networks[0]
    assert policy.names("BRIDGE.internal")
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        EgressPolicy.parse(["not a host!"])


@pytest.mark.parametrize("address", ["8.8.8.8", "2606:4700:4700::1111", "93.184.215.14"])
def test_public_addresses_pass(address):
    assert EgressPolicy().refusal("api.example", ipaddress.ip_address(address), plain_http=False) is None


def test_azure_wireserver_is_refused_though_it_is_a_public_address():
    assert "metadata" in EgressPolicy().refusal("x", ipaddress.ip_address("168.63.129.16"), plain_http=False)


def test_url_problem_is_what_the_config_validator_reports():
    policy = EgressPolicy()
    assert url_problem("https://graph.facebook.com", policy) is None
    assert "https" in url_problem("http://graph.facebook.com", policy)
    assert url_problem("http://10.0.0.5:3000", EgressPolicy.parse("10.0.0.0/8")) is None
    assert url_problem("http://waha:3000", EgressPolicy.parse("10.0.0.0/8")) is None  # decided at connect
    assert "https" in url_problem("http://waha:3000", policy)


def test_egress_refusal_is_final_for_this_provider_but_lets_delivery_fail_over():
    refusal = EgressRefused("x")
    assert isinstance(refusal, ProviderRejected) and not refusal.retryable and refusal.fail_over
