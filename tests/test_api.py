"""Our OpenAI-compatible API (/v1 on the web app's port) through the real ``openai`` client,
with a password set; and bad requests, each a clear 4xx in OpenAI's error shape."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import httpx
import openai
import pytest

from assistant.runtime import Runtime

from .conftest import ROOT, SEEDS, wait_for_http
from .test_answer import CYBER
from .test_ui import app_env, free_port

PASSWORD = "s3cret-pass"


@pytest.fixture(scope="module")
def api_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("api")
    env = {**app_env(folder / "index"), "ASSISTANT_AUTH": f"reader:{PASSWORD}"}
    subprocess.run([sys.executable, "-m", "assistant", "ingest", str(SEEDS)], env=env,
                   check=True, capture_output=True, timeout=300)
    port = free_port()
    log = folder / "app.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        url = f"http://127.0.0.1:{port}"
        wait_for_http(url + "/v1/models", proc, log)
        yield url
        proc.terminate()
        proc.wait(timeout=20)
    assert "Traceback" not in log.read_text()


@pytest.fixture(scope="module")
def client(api_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=api_url + "/v1", api_key=PASSWORD, max_retries=0)


def test_models_lists_the_assistant(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["news-assistant"]


def test_a_cited_answer_through_the_openai_client(client: openai.OpenAI,
                                                  seeds_runtime: Runtime) -> None:
    reply = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": CYBER}])
    content = reply.choices[0].message.content or ""
    assert "Strategic Cyber Partnership" in content and "[1]" in content
    assert "Sources:" in content and "Jiji Press" in content
    citations = (reply.model_extra or {})["citations"]
    assert len(citations) >= 2
    for c in citations:
        text = seeds_runtime.store.article_text(c["article_id"])
        assert text is not None and text[c["start"] : c["end"]] == c["quote"]
        assert f"[{c['n']}]" in content and c["support"]["verdict"]
    assert citations[0]["supported"] is True  # the lead quote answers the question
    assert (reply.model_extra or {})["answer"]["abstained"] is False


def test_streaming_gives_the_same_answer(client: openai.OpenAI) -> None:
    whole = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": CYBER}])
    stream = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": CYBER}], stream=True)
    chunks = list(stream)
    assert len(chunks) > 2
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert (chunks[-1].model_extra or {})["citations"]


def test_earlier_turns_are_the_follow_up_history(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model="news-assistant", messages=[{"role": "user", "content": CYBER}])
    reply = client.chat.completions.create(model="news-assistant", messages=[
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": CYBER},
        {"role": "assistant", "content": first.choices[0].message.content or ""},
        {"role": "user", "content": "and on space?"}])
    answer = (reply.model_extra or {})["answer"]
    assert answer["standalone_question"] == "What did Takaichi and Starmer agree on space?"
    assert "space" in (reply.choices[0].message.content or "").lower()


@pytest.mark.parametrize(("kwargs", "error", "status", "words"), [
    ({"messages": []}, openai.BadRequestError, 400, "non-empty"),
    ({"messages": [{"role": "user", "content": "   "}]}, openai.BadRequestError, 400, "empty"),
    ({"messages": [{"role": "user", "content": CYBER}], "model": "gpt-4o"},
     openai.NotFoundError, 404, "gpt-4o"),
    ({"messages": [{"role": "user", "content": "x" * 2_000_000}]}, openai.APIStatusError,
     413, "at most"),
    ({"messages": [{"role": "assistant", "content": "hello"}]}, openai.BadRequestError, 400,
     "last message"),
])
def test_bad_requests_get_a_clear_4xx(client: openai.OpenAI, kwargs: dict, error: type,
                                      status: int, words: str) -> None:
    args = {"model": "news-assistant", **kwargs}
    with pytest.raises(error) as caught:
        client.chat.completions.create(**args)
    assert caught.value.status_code == status  # type: ignore[attr-defined]
    assert words in str(caught.value)


def test_a_wrong_password_is_refused(api_url: str) -> None:
    wrong = openai.OpenAI(base_url=api_url + "/v1", api_key="guess", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model="news-assistant",
                                      messages=[{"role": "user", "content": CYBER}])


def test_malformed_json_is_a_400_not_a_500(api_url: str) -> None:
    response = httpx.post(api_url + "/v1/chat/completions", content=b"{not json",
                          headers={"Authorization": f"Bearer {PASSWORD}",
                                   "Content-Type": "application/json"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "not valid JSON" in error["message"] and "Traceback" not in response.text


def test_the_chat_page_is_behind_the_same_password(api_url: str) -> None:
    request = urllib.request.Request(api_url + "/config")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code in (401, 403)
    login = httpx.post(api_url + "/login", data={"username": "reader", "password": PASSWORD})
    assert login.status_code == 200 and json.loads(login.text).get("success") is True


def test_readme_example_runs(api_url: str) -> None:
    """The README's openai-client example, as printed there, against this server."""
    readme = (ROOT / "README.md").read_text()
    code = readme.split("<!-- api-example -->", 2)[1].split("```python", 1)[1].split("```")[0]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={"ASSISTANT_URL": api_url + "/v1",
                                            "ASSISTANT_KEY": PASSWORD,
                                            "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "Strategic Cyber Partnership" in done.stdout and "[1]" in done.stdout


