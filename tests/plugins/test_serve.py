"""gen serve's app through Starlette's test client: Compose, history, files, and hostile requests."""

import json
import threading

import pytest
from starlette.testclient import TestClient

from musegen_web.serve import MAX_BODY, build, find_runs
from tests.conftest import train_tiny

pytestmark = pytest.mark.slow  # trains models or runs gen in processes


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("serve") / "tiny")


@pytest.fixture(scope="module")
def client(run_dir):
    with TestClient(build(find_runs([run_dir]))) as c:
        yield c


def compose(client, run="tiny", **settings):
    return client.post("/api/compose", json={"run": run, "tunes": 2, **settings})


def test_runs_list_their_choices(client):
    runs = client.get("/api/runs").json()["runs"]
    assert [r["name"] for r in runs] == ["tiny"]
    assert "jig" in runs[0]["choices"]["type"] and runs[0]["format"] == "abc"


def test_compose_writes_a_folder_of_tunes_with_their_settings(client, run_dir):
    r = compose(client, seed=5, type="reel")
    assert r.status_code == 200, r.text
    made = r.json()
    folder = run_dir / "serve" / made["id"]
    assert made["settings"] == {"run": "tiny", "tunes": 2, "type": "reel", "seed": 5}
    assert len(made["tunes"]) == 2 and made["html"].count('<article class="tune"') == 2
    assert json.loads((folder / "settings.json").read_text())["settings"]["seed"] == 5
    kinds = sorted(p.name.split(".", 1)[1] for p in folder.glob("01-*"))
    assert kinds in (
        ["abc", "mid", "ogg", "phone.svg", "svg"],
        ["abc"],
        ["abc", "phone.svg", "svg"],
        ["abc", "mid", "ogg"],
    )
    for name in (p.name for p in folder.iterdir() if not p.name.startswith(".")):
        assert client.get(f"/files/tiny/{made['id']}/{name}").status_code == 200
    again = compose(client, seed=5, type="reel").json()  # the same settings make the same tunes
    assert [t["title"] for t in again["tunes"]] == [t["title"] for t in made["tunes"]] and again["id"] != made["id"]
    assert compose(client).json()["settings"]["seed"] != compose(client).json()["settings"]["seed"]


def test_history_outlives_the_server(client, run_dir):
    made = compose(client, seed=9).json()
    assert client.get("/api/history").json()["history"][0]["id"] == made["id"]
    with TestClient(build(find_runs([run_dir]))) as restarted:
        history = restarted.get("/api/history").json()["history"]
        assert made["id"] in [h["id"] for h in history]
        shown = restarted.get(f"/api/compositions/tiny/{made['id']}").json()
        assert shown["html"].count('<article class="tune"') == 2 and shown["settings"]["seed"] == 9


def test_several_browsers_at_once(client):
    replies = []

    def one(seed):
        replies.append(compose(client, seed=seed))

    threads = [threading.Thread(target=one, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in replies] == [200] * 4
    assert len({r.json()["id"] for r in replies}) == 4


def hostile(client, run_dir, name="tiny"):
    """(what, response) for each kind of bad request to the run ``name`` in ``run_dir`` (a Starlette test
    client, or an httpx client of a running server: benchmarks/see_and_hear.py)."""
    compose = lambda client, **s: globals()["compose"](client, **{"run": name, **s})
    cid = compose(client, seed=1).json()["id"]
    outside = run_dir / "serve" / "secret.txt"  # beside the compositions, not in one
    outside.write_text("not yours")
    (run_dir / "serve" / cid / "link.txt").symlink_to(outside)
    post = lambda body, kind="application/json": client.post(
        "/api/compose", content=body, headers={"Content-Type": kind}
    )
    f = f"/files/{name}/{cid}"
    return [
        ("unknown run", compose(client, run="nope")),
        ("run in the path", client.get(f"/api/compositions/..%2F{name}/{cid}")),
        ("run not a string", compose(client, run=5)),
        ("no run", post(b'{"tunes": 2}')),
        ("no tunes", compose(client, tunes=0)),
        ("too many tunes", compose(client, tunes=9)),
        ("tunes not a number", compose(client, tunes="four")),
        ("temperature below", compose(client, temperature=-1)),
        ("temperature above", compose(client, temperature=100)),
        ("temperature not a number", compose(client, temperature="hot")),
        ("negative seed", compose(client, seed=-5)),
        ("huge seed", compose(client, seed=2**40)),
        ("no parts", compose(client, parts=0)),
        ("too many bars", compose(client, bars=1000)),
        ("type the corpus lacks", compose(client, type="kazoo")),
        ("key that is none", compose(client, key="H")),
        ("meter the corpus lacks", compose(client, meter="7/3")),
        ("long key", compose(client, key="G" * 50)),
        ("prime with unknown symbols", compose(client, prime="K:G\nλλλ")),
        ("prime not text", compose(client, prime=["K:G"])),
        ("prime too long", compose(client, prime="A" * 5000)),
        ("unknown setting", compose(client, evil=1)),
        ("body too large", post(b'{"run": "tiny", "prime": "' + b"A" * MAX_BODY + b'"}')),
        ("not JSON", post(b"{run: tiny")),
        ("JSON list", post(b"[1, 2]")),
        ("JSON null", post(b"null")),
        ("bad UTF-8", post(b'{"run": "\xff\xfe"}')),
        ("not JSON content", post(b"run=tiny", "application/x-www-form-urlencoded")),
        ("GET compose", client.get("/api/compose")),
        ("DELETE runs", client.delete("/api/runs")),
        ("unknown page", client.get("/admin")),
        ("parent path", client.get(f"{f}/..%2F..%2Frun.json")),
        ("dot-dot name", client.get(f"{f}/..")),
        ("hidden file", client.get(f"{f}/.musegen-files")),
        ("missing file", client.get(f"{f}/99-none.svg")),
        ("symlink out", client.get(f"{f}/link.txt")),
        ("not a composition", client.get(f"/files/{name}/..%2F..%2F/run.json")),
        ("composition of another name", client.get(f"/api/compositions/{name}/000001-x")),
        ("file of an unknown run", client.get(f"/files/other/{cid}/settings.json")),
    ]


def test_every_hostile_request_gets_a_4xx_with_a_message_and_the_server_goes_on(client, run_dir):
    cases = hostile(client, run_dir)
    assert len(cases) >= 30
    for what, r in cases:
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
        message = r.json().get("error", "")
        assert message and "Traceback" not in message, (what, r.text[:300])
    assert client.get("/api/runs").status_code == 200
    assert compose(client, seed=2).status_code == 200
    top = sorted(p.name for p in run_dir.iterdir())
    assert "serve" in top and not (run_dir.parent / "serve").exists()  # written only in the run's folder


def test_the_page_is_served_and_fetches_nothing_from_the_network(client):
    page = client.get("/").text
    assert '<form class="compose"' in page and "/api/compose" in page
    assert "http://" not in page and "https://" not in page


def test_no_runs_is_one_clear_error(tmp_path, monkeypatch):
    from musegen import MusegenError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(MusegenError, match="no runs to compose from"):
        find_runs([])
