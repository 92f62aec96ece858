"""The Go templates Kratos's users write for their courier overrides: Sprig functions, pipes,
variables, `range` and `with`, and i18n through `define` / `template` across an override folder's
files, rendered as Go's text/template and html/template render them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.courier.errors import TemplateError
from services.courier.render.gotemplate import GoTemplate
from shared.errors import ConfigError
from tests.unit.test_courier_overrides import b64, renderer_for
from tests.unit.test_courier_templates import request

IDENTITY = {
    "id": "9f425a8d-7efc-4768-8f23-7647a74fdf13",
    "traits": {"email": "alice@example.com", "firstName": "alice", "language": "de", "age": 30.0},
    "verifiable_addresses": [{"value": "alice@example.com", "verified": False}],
}


async def test_kratoss_documented_i18n_folder_renders(tmp_path: Path) -> None:
    """The example of Kratos's "Email templates in self-hosted Ory Kratos" page, as its users copy it."""
    folder = tmp_path / "courier-templates" / "recovery_code" / "valid"
    folder.mkdir(parents=True)
    (folder / "email.body.gotmpl").write_text(
        '{{- if eq .Identity.traits.language "de" -}}\n{{ template "email.body.de.gotmpl" . }}\n'
        '{{- else -}}\n{{ template "email.body.en.gotmpl" . }}\n{{- end -}}\n\n{{ .RecoveryCode }}\n'
    )
    (folder / "email.body.de.gotmpl").write_text("Hallo {{ upper .Identity.traits.firstName }},\n")
    (folder / "email.body.en.gotmpl").write_text("Hello {{ upper .Identity.traits.firstName }},\n")
    (folder / "email.subject.gotmpl").write_text('{{ .Identity.traits.firstName | title | printf "Hi %s" }}')
    renderer = await renderer_for(tmp_path, {"template_override_path": str(tmp_path / "courier-templates")})

    german = renderer.render(request("recovery_code_valid", Identity=IDENTITY))
    assert german.html_body == "Hallo ALICE,\n271828\n"
    assert german.subject == "Hi Alice"
    english = {**IDENTITY, "traits": {**IDENTITY["traits"], "language": "en"}}
    assert renderer.render(request("recovery_code_valid", Identity=english)).html_body == "Hello ALICE,\n271828\n"


async def test_sprig_and_go_constructs_in_a_config_url(tmp_path: Path) -> None:
    source = (
        'Hi {{ .Identity.traits.nickname | default "there" }}'
        "{{ with .Identity.traits }} ({{ .email }}, {{ .age }}, for {{ $.To }}){{ end }}: "
        "{{ $code := .RecoveryCode }}{{ trunc 3 $code }}-{{ substr 3 6 $code }}"
        "{{ range $i, $a := .Identity.verifiable_addresses }} [{{ $i }} {{ $a.value }} {{ $a.verified }}]{{ end }}"
        '{{ if and (gt .ExpiresInMinutes 10) (contains "@" .To) }} valid {{ .ExpiresInMinutes }} minutes{{ end }}'
        '{{ range .Nothing }}x{{ else }}.{{ end }}{{ printf " %03d|%-4s|%q" 7 "ab" "c" }}'
    )
    renderer = await renderer_for(
        tmp_path, {"templates": {"recovery_code": {"valid": {"email": {"body": {"plaintext": b64(source)}}}}}}
    )
    assert renderer.render(request("recovery_code_valid", Identity=IDENTITY)).body == (
        "Hi there (alice@example.com, 30, for alice@example.com): 271-828"
        ' [0 alice@example.com false] valid 15 minutes. 007|ab  |"c"'
    )


async def test_html_bodies_escape_what_functions_return_but_not_a_nested_template(tmp_path: Path) -> None:
    source = '{{ define "name" }}<b>{{ .traits.firstName }}</b>{{ end }}{{ template "name" .Identity }} {{ cat "<i>" .Code }}'
    renderer = await renderer_for(
        tmp_path, {"templates": {"recovery_code": {"valid": {"email": {"body": {"html": b64(source)}}}}}}
    )
    identity = {"traits": {"firstName": "<script>"}}
    rendered = renderer.render(request("recovery_code_valid", Identity=identity, Code="1&2"))
    assert rendered.html_body == "<b>&lt;script&gt;</b> &lt;i&gt; 1&amp;2"


async def test_an_html_body_pipeline_ending_in_html_is_escaped_once(tmp_path: Path) -> None:
    """Go's html/template takes a trailing `html` as its own escaping: Kratos users' templates that
    write `{{ .X | html }}` must not show `&amp;lt;` in the mail."""
    source = "{{ .Identity.traits.firstName | html }} {{ html .Code }}"
    renderer = await renderer_for(
        tmp_path, {"templates": {"recovery_code": {"valid": {"email": {"body": {"html": b64(source)}}}}}}
    )
    rendered = renderer.render(request("recovery_code_valid", Identity={"traits": {"firstName": "<b>"}}, Code="1&2"))
    assert rendered.html_body == "&lt;b&gt; 1&amp;2"


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ now }}", 'function "now" not defined'),  # Kratos's hermetic Sprig has no clock
        ('{{ env "HOME" }}', 'function "env" not defined'),  # nor the environment
        ('{{ regexMatch "(a+)+$" .To }}', 'function "regexMatch" not defined'),  # Python's re backtracks
        ('{{ template "missing" . }}', "no such template 'missing'"),
        ("{{ with .X }}open", "without {{ end }}"),
        ("{{ .RecoveryCode 1 }}", "can't give argument to non-function"),
        ("{{ if .To }}{{ $x := 1 }}{{ end }}{{ $x }}", 'undefined variable "\\$x"'),  # Go's scopes
    ],
)
async def test_what_kratos_cannot_render_fails_at_start_up(tmp_path: Path, source: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=r"courier\.templates\.recovery\.valid\.email\.subject: .*" + problem):
        await renderer_for(tmp_path, {"templates": {"recovery": {"valid": {"email": {"subject": b64(source)}}}}})


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        (
            "{{ .N }} {{ .F }} {{ .Big }} {{ .Small }}",
            {"N": 3, "F": 2.5, "Big": 1e21, "Small": 1e-5},
            "3 2.5 1e+21 1e-05",
        ),
        ("{{ .M }} {{ .L }}", {"M": {"b": 1, "a": [True, None]}, "L": ["x", 2]}, "map[a:[true <nil>] b:1] [x 2]"),
        (
            "{{ len .S }} {{ index .L 1 }} {{ .L | first }} {{ list 1 2 | last }}",
            {"S": "é", "L": ["x", "y"]},
            "2 y x 2",
        ),
        ("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", {}, "2"),
        (
            "{{ range $i, $v := .L }}{{ if eq $i 1 }}{{ continue }}{{ end }}{{ if eq $i 3 }}{{ break }}{{ end }}{{ $v }}{{ end }}",
            {"L": ["a", "b", "c", "d"]},
            "ac",
        ),
        (
            '{{ (dict "k" "v").k }} {{ dig "a" "b" "none" .D }} {{ toJson .D }}',
            {"D": {"a": {"b": "<&>"}}},
            'v <&> {"a":{"b":"\\u003c\\u0026\\u003e"}}',
        ),
        (
            '{{ add 1 "2" 3.9 }} {{ div 7 2 }} {{ sub 1 5 }} {{ ternary "y" "n" .T }} {{ coalesce "" .Missing "z" }}',
            {"T": True},
            "6 3 -4 y z",
        ),
        ("{{- /* note */ -}}\n  {{ `raw\\n` }} {{ 'a' }} {{ 0x10 }}", {}, "raw\\n 97 16"),
    ],
)
def test_go_semantics(source: str, data: dict[str, Any], expected: str) -> None:
    assert GoTemplate(source).render(data) == expected


def test_a_template_that_calls_itself_stops() -> None:
    template = GoTemplate('{{ define "loop" }}{{ template "loop" . }}{{ end }}{{ template "loop" . }}')
    with pytest.raises(TemplateError, match="too deeply"):
        template.render({})


@pytest.mark.parametrize(
    "source",
    [
        "{{ range .Code }}{{ end }}",
        "{{ fail .Code }}",
        "{{ index .Code 9 }}",
        "{{ lt .Code 1 }}",
        "{{ $.Nope.x }}{{ $y }}",
    ],
)
def test_a_failure_at_send_time_never_quotes_the_data(source: str) -> None:
    """The error is logged and stored with the message's dispatch: it must not carry the code."""
    with pytest.raises(TemplateError) as failed:
        GoTemplate(source).render({"Code": "271828"})
    assert "271828" not in str(failed.value)


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        # A value a client chose (a trait, the flow's transient_payload) starting a link: as Go's
        # html/template, a scheme other than http, https or mailto is refused.
        (
            '<a href="{{ .U }}">{{ .U }}</a>',
            {"U": "javascript:alert(1)"},
            '<a href="#ZgotmplZ">javascript:alert(1)</a>',
        ),
        ("<a class=x HREF='{{ .U }}'>", {"U": " JavaScript:alert(1)"}, "<a class=x HREF='#ZgotmplZ'>"),
        ("<img src={{ .U }}>", {"U": "data:text/html,<b>"}, "<img src=#ZgotmplZ>"),
        # What may not stand in a URL is percent-encoded, a quote that would end the value included.
        (
            "<a href='{{ .U }}'>",
            {"U": "https://example.com/a b/'onclick=x"},
            "<a href='https://example.com/a%20b/%27onclick=x'>",
        ),
        ('<a href="{{ .U }}">', {"U": "mailto:a@example.com?subject=hi"}, '<a href="mailto:a@example.com?subject=hi">'),
        ('<a href="/a:{{ .U }}">', {"U": "b c"}, '<a href="/a:b%20c">'),
        # In the query, a value stays one parameter's value.
        (
            '<a href="https://example.com/?flow=1&amp;q={{ .Q }}">',
            {"Q": "a&admin=1 é"},
            '<a href="https://example.com/?flow=1&amp;q=a%26admin%3d1%20%c3%a9">',
        ),
        # The context is the template's, never a value's: two values at a link's start are both
        # filtered (in a range too), and a pipeline ending in `html` is filtered before it escapes.
        ('<a href="{{ .A }}{{ .B }}">', {"A": "java", "B": "script:x"}, '<a href="java#ZgotmplZ">'),
        ('<a href="{{ range .L }}{{ . }}{{ end }}">', {"L": ["java", "script:x"]}, '<a href="java#ZgotmplZ">'),
        ('<a href="{{ .A }}{{ .B }}">', {"A": "?", "B": "javascript:x"}, '<a href="?#ZgotmplZ">'),
        ('<a href="{{ .U | html }}">', {"U": "javascript:x"}, '<a href="#ZgotmplZ">'),
        ('<a href="{{ html .U }}">', {"U": "https://a/?q=<&>"}, '<a href="https://a/?q=%3c&amp;%3e">'),
        ('<p title="{{ .U | html }}">{{ .U | html }}', {"U": "<&>"}, '<p title="&lt;&amp;&gt;">&lt;&amp;&gt;'),
        # Entities in the template's text count as what they stand for; a namespace or `data-` does
        # not hide a URL attribute, nor does a name that holds `src` or `url`.
        ('<a href="&#32;{{ .U }}">', {"U": "javascript:x"}, '<a href="&#32;#ZgotmplZ">'),
        (
            '<a xlink:href="{{ .U }}" data-href="{{ .U }}">',
            {"U": "javascript:x"},
            '<a xlink:href="#ZgotmplZ" data-href="#ZgotmplZ">',
        ),
        (
            '<img data-lowsrc="{{ .U }}" data-imgurl="{{ .U }}">',
            {"U": "javascript:x"},
            '<img data-lowsrc="#ZgotmplZ" data-imgurl="#ZgotmplZ">',
        ),
        # In an unquoted value (or where an attribute name goes), a value cannot end the value or
        # add an attribute; an empty one would leave the next attribute as this one's value.
        (
            '<a class={{ .C }} href="https://example.com/">',
            {"C": "x href=javascript:x"},
            '<a class=x&#32;href&#61;javascript:x href="https://example.com/">',
        ),
        ("<a href=https://example.com/?a=b&c={{ .C }}>", {"C": "x y"}, "<a href=https://example.com/?a=b&c=x%20y>"),
        ("<a href={{ .C }} title=t>", {"C": ""}, "<a href=ZgotmplZ title=t>"),
        ("<a {{ .C }}>{{ .C }}", {"C": "href=x y"}, "<a href&#61;x&#32;y>href=x y"),
        # Outside a URL attribute, HTML escaping alone, as before.
        (
            '<p title="{{ .U }}">{{ .U }}</p>',
            {"U": "javascript:<x>"},
            '<p title="javascript:&lt;x&gt;">javascript:&lt;x&gt;</p>',
        ),
    ],
)
def test_html_bodies_treat_a_value_in_a_url_attribute_as_go_does(
    source: str, data: dict[str, Any], expected: str
) -> None:
    assert GoTemplate(source, html=True).render(data) == expected


def test_plaintext_bodies_print_urls_as_they_are() -> None:
    assert GoTemplate('<a href="{{ .U }}">', html=False).render({"U": "javascript:x"}) == '<a href="javascript:x">'
