"""Template overrides from config (`courier.templates.*` as file://, base64:// and http:// URLs,
and `courier.template_override_path`), rendered as Go templates (more of the language in test_courier_gotemplate.py)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from services.courier.errors import TemplateError
from services.courier.render.builtin import BuiltinTemplates
from services.courier.render.gotemplate import GoTemplate
from services.courier.render.overrides import load_overrides
from services.courier.render.renderer import Renderer
from shared.errors import ConfigError
from tests.factories import settings_for
from tests.unit.test_courier_templates import request


def b64(text: str) -> str:
    return "base64://" + base64.b64encode(text.encode()).decode()


async def no_fetch(url: str) -> str:
    raise AssertionError(f"nothing should be fetched ({url})")


async def renderer_for(tmp_path: Path, courier: dict[str, Any], fetch: Any = no_fetch) -> Renderer:
    settings = settings_for(tmp_path, "memory", {"courier": courier})
    return Renderer(BuiltinTemplates(), await load_overrides(settings, fetch))


async def test_config_urls_override_each_part(tmp_path: Path) -> None:
    (tmp_path / "body.gotmpl").write_text("Hello {{ .Identity.traits.email }}, your code: {{ .RecoveryCode }}\n")
    renderer = await renderer_for(
        tmp_path,
        {
            "templates": {
                "recovery_code": {
                    "valid": {
                        "email": {
                            "subject": b64("Code {{ .RecoveryCode }}"),
                            "body": {
                                "plaintext": f"file://{tmp_path}/body.gotmpl",
                                "html": b64("<p>{{ .Identity.traits.name }}</p>"),
                            },
                        },
                        "sms": {"body": {"plaintext": b64("SMS {{ .RecoveryCode }}")}},
                    }
                }
            }
        },
    )
    email = renderer.render(request("recovery_code_valid"))
    assert email.subject == "Code 271828"
    assert email.body == "Hello alice@example.com, your code: 271828\n"
    assert email.html_body == "<p>&lt;b&gt;Alice&lt;/b&gt;</p>"  # escaped, as Go's html/template does
    assert renderer.render(request("recovery_code_valid", "sms", recipient="+15550100")).body == "SMS 271828"
    # The parts and types not overridden keep the built-in templates.
    assert renderer.render(request("recovery_code_invalid")).subject == "Account access attempted"


@pytest.mark.parametrize(
    ("template_type", "group", "validity"),
    [
        ("registration_attempted", "registration_attempted", "valid"),
        ("second_factor_added", "second_factor_added", "valid"),
        ("second_factor_removed", "second_factor_removed", "valid"),
        ("login_code_invalid", "login_code", "invalid"),
    ],
)
async def test_wardens_own_templates_are_overridden_where_kratoss_are(
    tmp_path: Path, template_type: str, group: str, validity: str
) -> None:
    """`courier.templates.<group>.<validity>.email.*` for the mails Warden sends and Kratos does not:
    keys of Warden's own, accepted by the config schema and used like Kratos's."""
    built_in = BuiltinTemplates()
    renderer = await renderer_for(
        tmp_path, {"templates": {group: {validity: {"email": {"subject": b64("Hi {{ .To }}")}}}}}
    )
    rendered = renderer.render(request(template_type))
    assert rendered.subject == "Hi alice@example.com"
    # The parts not overridden stay built in.
    assert (
        rendered.body
        == Renderer(built_in, await load_overrides(settings_for(tmp_path, "memory"), no_fetch))
        .render(request(template_type))
        .body
    )


async def test_a_relative_file_url_is_found_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "subject.gotmpl").write_text("Verify with {{ .VerificationCode }}")
    renderer = await renderer_for(
        tmp_path, {"templates": {"verification_code": {"valid": {"email": {"subject": "file://subject.gotmpl"}}}}}
    )
    assert renderer.render(request("verification_code_valid")).subject == "Verify with 314159"


async def test_the_override_folder_uses_kratoss_layout(tmp_path: Path) -> None:
    folder = tmp_path / "courier-templates" / "login_code" / "valid"
    folder.mkdir(parents=True)
    (folder / "email.subject.gotmpl").write_text("{{- /* a comment */ -}} Login: {{ .LoginCode }}\n")
    (folder / "sms.body.gotmpl").write_text(
        "{{ if .ExpiresInMinutes }}{{ .LoginCode }} ({{ .ExpiresInMinutes }} min){{ end }}"
    )
    renderer = await renderer_for(tmp_path, {"template_override_path": str(tmp_path / "courier-templates")})
    email = renderer.render(request("login_code_valid"))
    assert email.subject == "Login: 161803"
    assert "161803" in email.body and email.body.startswith("Please login")  # built-in body kept
    assert renderer.render(request("login_code_valid", "sms", recipient="+15550100")).body == "161803 (15 min)"


async def test_the_address_change_notice_has_no_valid_or_invalid_level(tmp_path: Path) -> None:
    """Kratos's `courier.templates.verifiable_address_changed.{email,sms}` and its folder
    `verifiable_address_changed/` hold the notice's templates directly."""
    folder = tmp_path / "courier-templates" / "verifiable_address_changed"
    folder.mkdir(parents=True)
    (folder / "email.body.plaintext.gotmpl").write_text('{{ index .Identity "id" }} at {{ .ChangedAt }}')
    courier = {
        "template_override_path": str(tmp_path / "courier-templates"),
        "templates": {
            "verifiable_address_changed": {
                "email": {"subject": b64("Changed: {{ .To }}")},
                "sms": {"body": {"plaintext": b64("Changed {{ .ChangedAt }}")}},
            }
        },
    }
    renderer = await renderer_for(tmp_path, courier)
    email = renderer.render(request("verifiable_address_changed"))
    assert email.subject == "Changed: alice@example.com"
    assert email.body == "6f3c1a52-2b1e-4c1d-9d59-0c3a3e9f1b77 at 2026-04-21T12:00:00Z"
    assert "2026-04-21T12:00:00Z" in (email.html_body or "")  # the built-in HTML body kept
    sms = renderer.render(request("verifiable_address_changed", "sms", recipient="+15550100"))
    assert sms.body == "Changed 2026-04-21T12:00:00Z"


async def test_an_http_url_is_fetched_once_at_start_up(tmp_path: Path) -> None:
    fetched: list[str] = []

    async def fetch(url: str) -> str:
        fetched.append(url)
        return "Welcome {{ .RegistrationCode }}"

    renderer = await renderer_for(
        tmp_path,
        {
            "templates": {
                "registration_code": {"valid": {"email": {"subject": "https://templates.example/subject.gotmpl"}}}
            }
        },
        fetch,
    )
    assert renderer.render(request("registration_code_valid")).subject == "Welcome 141421"
    renderer.render(request("registration_code_valid"))
    assert fetched == ["https://templates.example/subject.gotmpl"]


async def test_an_http_url_that_fails_names_the_key(tmp_path: Path, aiohttp_free_server: str) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http:

        async def fetch(url: str) -> str:
            async with http.get(url) as response:
                response.raise_for_status()
                return await response.text()

        with pytest.raises(ConfigError, match=r"courier\.templates\.recovery\.valid\.email\.subject: cannot fetch"):
            await renderer_for(
                tmp_path,
                {"templates": {"recovery": {"valid": {"email": {"subject": f"{aiohttp_free_server}/missing.gotmpl"}}}}},
                fetch,
            )


@pytest.mark.parametrize("source", ["{{ range .X }}", "{{ .RecoveryURL | now }}", "{{ if .X }}open"])
async def test_an_unsupported_override_fails_at_start_up(tmp_path: Path, source: str) -> None:
    with pytest.raises(ConfigError, match=r"courier\.templates\.recovery\.valid\.email\.body\.html"):
        await renderer_for(tmp_path, {"templates": {"recovery": {"valid": {"email": {"body": {"html": b64(source)}}}}}})


async def test_a_missing_override_file_fails_at_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="courier.templates.recovery.invalid.email.subject"):
        await renderer_for(
            tmp_path, {"templates": {"recovery": {"invalid": {"email": {"subject": "file:///nowhere/x"}}}}}
        )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ .A }}-{{ .B.c }}-{{ .Missing }}-{{ .B.missing.deeper }}", "1-two--"),
        ('{{ index .B "c" }} {{ index .L 1 }} {{ len .L }}', "two y 2"),
        ("{{ if eq .A 1 }}one{{ else if eq .A 2 }}two{{ else }}other{{ end }}", "one"),
        (
            '{{ if not .Missing }}none{{ end }}|{{ if and .A .Missing }}x{{ else }}y{{ end }}|{{ or .Missing "d" }}',
            "none|y|d",
        ),
        ("a  {{- .A -}}  b {{/* gone */}}c", "a1b c"),
        ('{{ .T }} {{ .F }} {{ "lit" }} {{ `raw` }} {{ .B }}', "true false lit raw map[c:two]"),  # Go's fmt
    ],
)
def test_go_template_basics(source: str, expected: str) -> None:
    context = {"A": 1, "B": {"c": "two"}, "L": ["x", "y"], "T": True, "F": False}
    assert GoTemplate(source).render(context) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ end }}",
        "{{ else }}",
        "{{ $x := }}",
        '{{ template "x" . }}',
        '{{ printf "%s" .A | call }}',
        "{{ .A.B | .C }}",
        "{{ if .A }}{{ else }}{{ else }}{{ end }}",
        "{{ }}",
        "{{ with .A }}",
        "{{ break }}",
    ],
)
def test_go_template_errors_are_refused_when_loaded(source: str) -> None:
    with pytest.raises(TemplateError):
        GoTemplate(source)


@pytest.fixture
async def aiohttp_free_server() -> Any:
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


async def test_an_override_folder_that_is_not_there_is_named_at_start_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kratos starts with it, and so does Warden; but the operator is told it does nothing."""
    await renderer_for(tmp_path, {"template_override_path": str(tmp_path / "no-such-folder")})
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("template_override_path" in w and "no-such-folder" in w for w in warnings), warnings
