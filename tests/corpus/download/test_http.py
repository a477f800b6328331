"""PoliteClient against a loopback server with injected faults: retries, Retry-After, resume, verification."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from meditron.corpus.download.http import (
    DEFAULT_USER_AGENT,
    DownloadError,
    PoliteClient,
    parse_retry_after,
)
from tests.corpus.download.server import Fault, LoopbackServer, Resource

BODY = bytes(range(256)) * 400  # 102,400 bytes, every byte value, so a splice at the wrong offset changes the md5
MD5 = hashlib.md5(BODY).hexdigest()


class Sleeps(list):
    """An injected sleep that records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture()
def sleeps() -> Sleeps:
    return Sleeps()


def _client(sleeps: Sleeps, **kw) -> PoliteClient:
    return PoliteClient(sleep=sleeps, backoff_s=0.5, **{"timeout_s": 5.0, **kw})


def test_user_agent_names_the_tool_and_a_contact_url():
    with LoopbackServer({"/x": b"ok"}) as server, PoliteClient() as client:
        assert client.get(server.url("/x")).text == "ok"
        assert server.log[0].headers["user-agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("meditron-corpus/") and "+https://github.com/" in DEFAULT_USER_AGENT


def test_500s_then_success_backs_off_exponentially(tmp_path, sleeps):
    with LoopbackServer({"/f.bin": BODY}) as server, _client(sleeps) as client:
        server.add_faults("/f.bin", Fault.http(500), Fault.http(502), Fault.http(503))
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_md5=MD5)
    assert result.status == "downloaded" and result.md5 == MD5 and result.size == len(BODY)
    assert (tmp_path / "f.bin").read_bytes() == BODY
    assert sleeps == [0.5, 1.0, 2.0]  # the 503 had no Retry-After: plain backoff
    assert len(server.requests_for("/f.bin")) == 4


def test_gives_up_after_the_last_retry_and_names_the_url(tmp_path, sleeps):
    with LoopbackServer({"/f.bin": BODY}) as server, _client(sleeps, retries=2) as client:
        server.add_faults("/f.bin", *[Fault.http(500)] * 3)
        with pytest.raises(DownloadError, match=r"/f\.bin: HTTP 500 \(gave up after 2 retries\)"):
            client.get(server.url("/f.bin"))
        server.add_faults("/f.bin", *[Fault.http(500)] * 3)
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin")
    assert result.status == "failed" and "HTTP 500" in result.error
    assert not (tmp_path / "f.bin").exists()


def test_timeout_then_success(tmp_path, sleeps):
    with LoopbackServer({"/f.bin": BODY}) as server, _client(sleeps, timeout_s=0.3) as client:
        server.add_faults("/f.bin", Fault.delay(1.5))
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_md5=MD5)
    assert result.status == "downloaded" and (tmp_path / "f.bin").read_bytes() == BODY
    assert sleeps == [0.5]


def test_retry_after_seconds_and_http_date_are_honoured(sleeps):
    when = datetime.now(timezone.utc) + timedelta(seconds=120)
    with LoopbackServer({"/p": b"page"}) as server, _client(sleeps) as client:
        server.add_faults("/p", Fault.retry_after("7"), Fault.retry_after(format_datetime(when, usegmt=True), 503))
        assert client.get(server.url("/p")).text == "page"
    assert sleeps[0] == 7.0
    assert 110 <= sleeps[1] <= 120


def test_retry_after_is_capped(sleeps):
    with LoopbackServer({"/p": b"page"}) as server, _client(sleeps, max_retry_after_s=30) as client:
        server.add_faults("/p", Fault.retry_after("86400"))
        client.get(server.url("/p"))
    assert sleeps == [30]


def test_parse_retry_after_rejects_garbage():
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("12") == 12.0


def test_cut_mid_file_resumes_from_the_byte_where_it_stopped(tmp_path, sleeps):
    with LoopbackServer({"/f.bin": BODY}) as server, _client(sleeps) as client:
        server.add_faults("/f.bin", Fault.cut(40_000))
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_md5=MD5)
        requests = server.requests_for("/f.bin")
    assert result.status == "resumed" and result.md5 == MD5
    assert (tmp_path / "f.bin").read_bytes() == BODY
    assert "range" not in requests[0].headers
    assert requests[1].headers["range"] == "bytes=40000-"
    assert result.bytes_transferred == len(BODY)  # 40,000 + the remaining 62,400: nothing fetched twice
    assert not (tmp_path / "f.bin.part").exists()


def test_a_part_left_by_an_earlier_run_is_resumed(tmp_path, sleeps):
    (tmp_path / "f.bin.part").write_bytes(BODY[:1234])
    with LoopbackServer({"/f.bin": BODY}) as server, _client(sleeps) as client:
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_md5=MD5)
        assert server.requests_for("/f.bin")[0].headers["range"] == "bytes=1234-"
    assert result.status == "resumed" and result.bytes_transferred == len(BODY) - 1234
    assert (tmp_path / "f.bin").read_bytes() == BODY


def test_a_server_that_ignores_range_restarts_cleanly(tmp_path, sleeps):
    (tmp_path / "f.bin.part").write_bytes(b"\xff" * 5000)  # would corrupt the file if appended to
    with LoopbackServer({"/f.bin": Resource(BODY, ranges=False)}) as server, _client(sleeps) as client:
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_md5=MD5)
        assert server.requests_for("/f.bin")[0].headers["range"] == "bytes=5000-"
    assert result.status == "downloaded" and (tmp_path / "f.bin").read_bytes() == BODY


def test_a_wrong_content_range_is_not_spliced(tmp_path, sleeps):
    (tmp_path / "f.bin.part").write_bytes(BODY[:100])

    def wrong_range(request):
        if "range" in request.headers:
            return 206, {"Content-Range": f"bytes 0-{len(BODY) - 1}/{len(BODY)}"}, BODY
        return 200, {}, BODY

    with LoopbackServer({"/f.bin": wrong_range}) as server, _client(sleeps) as client:
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_md5=MD5)
        assert [("range" in r.headers) for r in server.requests_for("/f.bin")] == [True, False]
    assert result.ok and (tmp_path / "f.bin").read_bytes() == BODY


def test_wrong_md5_never_reaches_the_final_name(tmp_path, sleeps):
    with LoopbackServer({"/f.bin": BODY}) as server, _client(sleeps) as client:
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_md5="0" * 32)
    assert result.status == "failed" and result.error == f"md5 mismatch: expected {'0' * 32}, got {MD5}"
    assert result.path is None and os.listdir(tmp_path) == []


def test_wrong_size_is_reported(tmp_path, sleeps):
    with LoopbackServer({"/f.bin": BODY}) as server, _client(sleeps) as client:
        result = client.download(server.url("/f.bin"), tmp_path / "f.bin", expected_size=10)
    assert result.status == "failed" and result.error == f"size mismatch: expected 10 bytes, got {len(BODY)}"


def test_404_fails_without_retrying(tmp_path, sleeps):
    with LoopbackServer({}) as server, _client(sleeps) as client:
        result = client.download(server.url("/missing"), tmp_path / "m")
        assert client.get(server.url("/missing")).status_code == 404
    assert result.status == "failed" and result.error == "HTTP 404" and sleeps == []


def test_conditional_get_returns_unchanged_on_304(tmp_path, sleeps):
    resource = Resource(BODY, etag='"v1"', last_modified="Wed, 11 Dec 2024 14:24:00 GMT")
    with LoopbackServer({"/f.bin": resource}) as server, _client(sleeps) as client:
        first = client.download(server.url("/f.bin"), tmp_path / "f.bin")
        second = client.download(server.url("/f.bin"), tmp_path / "f.bin", etag=first.etag,
                                 last_modified=first.last_modified)
        conditional = server.requests_for("/f.bin")[1].headers
    assert first.etag == '"v1"' and first.last_modified == "Wed, 11 Dec 2024 14:24:00 GMT"
    assert conditional["if-none-match"] == '"v1"'
    assert second.status == "unchanged" and second.md5 == MD5 and second.bytes_transferred == 0


def test_min_interval_spaces_requests_to_one_host(sleeps):
    ticks = iter([100.0, 100.0, 100.5])
    with LoopbackServer({"/p": b"x"}) as server:
        client = PoliteClient(sleep=sleeps, clock=lambda: next(ticks), min_interval_s=2.0)
        for _ in range(3):
            client.get(server.url("/p"))
        client.close()
    assert sleeps == [2.0, 3.5]  # second starts at 102, third at 104 (clock read 100.5)
