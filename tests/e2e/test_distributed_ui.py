"""The distributed setup's own config (deploy/kratos.yml, as docker-compose and Kubernetes mount it)
serves the built-in UI: the four services as processes on PostgreSQL, RabbitMQ and Redis behind the
generated nginx, given only the environment the file's header lists, and a person signs up through
/ui/ in headless Chromium, is shown the verification page (its show_verification_ui hook), types the
code the courier wrote to the mail folder, and lands signed in on the welcome page. No ui_url is
written in that file: the built-in UI's URLs come from the layer under every config (issue 18, item 2).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser import chromium_page, follow
from tests.conftest import free_port
from tests.e2e.test_distributed import INTERNAL_TOKEN, Cluster, running_cluster
from tests.e2e.warden_process import distributed_env
from tests.mail_folder import wait_for_mails
from tests.mail_helpers import code_in, link_in

DEPLOY = Path(__file__).parents[2] / "deploy"
PASSWORD = "Correct-Horse-Battery-9!"


@pytest.fixture
def deployed(
    tmp_path: Path, pg_dsn: str, amqp_vhost: str, redis_url: str, redis_prefix: str
) -> Iterator[tuple[Cluster, Path]]:
    public_port = free_port()
    public = f"http://127.0.0.1:{public_port}"
    env = distributed_env(pg_dsn, amqp_vhost, redis_url, redis_prefix, INTERNAL_TOKEN) | {
        "SECRETS_COOKIE": "e2e-distributed-ui-cookie-secret-0123",
        "SECRETS_CIPHER": "e2e-distributed-ui-cipher-32char",
        "SERVE_PUBLIC_BASE_URL": f"{public}/",
        "SELFSERVICE_DEFAULT_BROWSER_RETURN_URL": f"{public}/ui/welcome",
        "SELFSERVICE_ALLOWED_RETURN_URLS": json.dumps([public]),
        # Where docker-compose mounts the schema (/etc/warden/) is this checkout's deploy/ here.
        "IDENTITY_SCHEMAS": json.dumps([{"id": "default", "url": f"file://{DEPLOY / 'identity.schema.json'}"}]),
        # The file listens on every interface, as a container must; on this machine, loopback only.
        "SERVE_PUBLIC_HOST": "127.0.0.1",
        "SERVE_ADMIN_HOST": "127.0.0.1",
    }
    with running_cluster(DEPLOY / "kratos.yml", env, tmp_path, public_port) as cluster:
        yield cluster, tmp_path / ".warden" / "mail"  # no SMTP in the environment: the courier's folder


def test_signing_up_through_the_built_in_ui_of_the_distributed_setup(deployed: tuple[Cluster, Path]) -> None:
    cluster, mail = deployed
    email = f"distributed-{uuid.uuid4().hex[:8]}@example.com"
    with chromium_page() as page:
        page.goto(f"{cluster.public}/ui/")
        assert page.url.startswith(f"{cluster.public}/ui/login?flow="), "nginx routes /ui/ to selfservice"
        follow(page, page.get_by_role("link", name="Create an account"))
        page.get_by_label("E-Mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign up").click()

        page.wait_for_url(f"{cluster.public}/ui/verification?flow=*")  # show_verification_ui
        # The mail goes out after the answer (from the committed event, through RabbitMQ to the
        # courier process), but the page already asks for its code, for the address just typed.
        assert "An email containing a verification code has been sent" in page.inner_text("main")
        assert page.get_by_label("Email").count() == 0, "the address is not asked for again"
        (sent,) = wait_for_mails(mail, email, timeout=30.0)
        assert (
            parse_qs(urlsplit(link_in(sent, "verification")).query)["flow"]
            == parse_qs(urlsplit(page.url).query)["flow"]
        )
        page.get_by_label("Verification code").fill(code_in(sent))
        follow(page, page.get_by_role("button", name="Continue"))
        assert "You successfully verified your email address." in page.inner_text("main")

        page.goto(f"{cluster.public}/ui/welcome")
        welcome = page.inner_text("main")
        assert "You are signed in." in welcome and email in welcome, "the session service recognises the cookie"
        assert page.get_by_role("link", name="Verify your email address").count() == 0
