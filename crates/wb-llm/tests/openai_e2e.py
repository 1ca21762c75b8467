"""The OpenAI-compatible server (`wb-llm serve`) end to end, through the official `openai` Python
client: plain, streamed, stop sequences, tools, JSON Schema output (also through the client's
own Pydantic `parse`), embeddings against numpy's reference vectors, the error cases, a full
queue (429), a client that goes away mid-stream, and a graceful shutdown.

Run by `openai-e2e.sh`, which builds and starts the server; arguments: the base URL, the
server's process id, the repository root. Independent checks: the tool calls and structured
outputs are validated by the `jsonschema` package, the embeddings compared with vectors that a
numpy forward pass computed (crates/wb-llm/fixtures/reference.json).
"""

import base64
import importlib.metadata
import json
import os
import signal
import struct
import sys
import threading
import time

import httpx2 as httpx  # the HTTP library the openai client is built on
import jsonschema
import openai
from pydantic import BaseModel

BASE, PID, ROOT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
CHAT, EMBED = "smollm2-135m-instruct", "all-minilm-l6-v2"
client = openai.OpenAI(base_url=BASE, api_key="not-needed", max_retries=0, timeout=120)
passed = []


def check(name):
    def run(f):
        t = time.time()
        f()
        passed.append(name)
        print(f"ok  {name} ({time.time() - t:.1f} s)", flush=True)

    return run


def health():
    return httpx.get(BASE.removesuffix("/v1") + "/healthz").json()


def ask(text, **kw):
    return client.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": text}], temperature=0, **kw
    )


@check("models are listed")
def _():
    ids = [m.id for m in client.models.list()]
    assert ids == [CHAT, EMBED], ids
    assert client.models.retrieve(EMBED).id == EMBED


PLAIN = {}


@check("a plain answer")
def _():
    r = ask("What is the capital of France?")
    c = r.choices[0]
    assert "Paris" in c.message.content, c.message.content
    assert c.finish_reason == "stop" and c.message.role == "assistant"
    u = r.usage
    assert u.prompt_tokens > 10 and u.completion_tokens > 0, u
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens
    PLAIN.update(text=c.message.content, usage=u)


@check("streamed: the same text in pieces, usage last, [DONE]")
def _():
    stream = ask("What is the capital of France?", stream=True, stream_options={"include_usage": True})
    pieces, finish, usage = [], None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for c in chunk.choices:
            if c.delta.content:
                pieces.append(c.delta.content)
            finish = c.finish_reason or finish
    assert "".join(pieces) == PLAIN["text"], pieces
    assert len(pieces) > 3 and finish == "stop"
    assert usage.completion_tokens == PLAIN["usage"].completion_tokens


@check("a stop sequence and max_tokens")
def _():
    r = ask("What is the capital of France?", stop=[" Paris"])
    assert r.choices[0].message.content == PLAIN["text"].split(" Paris")[0]
    assert r.choices[0].finish_reason == "stop"
    r = ask("What is the capital of France?", max_tokens=3)
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 3


@check("the same seed samples the same text")
def _():
    kw = dict(model=CHAT, messages=[{"role": "user", "content": "Name a colour."}], temperature=1.0, seed=42, max_tokens=12)
    a = client.chat.completions.create(**kw).choices[0].message.content
    b = client.chat.completions.create(**kw).choices[0].message.content
    assert a == b, (a, b)


TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "the current weather of a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "convert_currency", "description": "converts an amount between currencies",
     "parameters": {"type": "object", "properties": {"amount": {"type": "number"},
                    "from": {"enum": ["USD", "EUR", "GBP"]}, "to": {"enum": ["USD", "EUR", "GBP"]}},
                    "required": ["amount", "from", "to"]}}},
    {"type": "function", "function": {"name": "set_timer", "description": "starts a timer",
     "parameters": {"type": "object", "properties": {"minutes": {"type": "integer"}}, "required": ["minutes"]}}},
]
PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}


def valid_call(call):
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, PARAMS[call.function.name])
    return call.function.name, args


@check("tools: every call names a tool and its arguments validate (jsonschema)")
def _():
    prompts = ["What is the weather in Oslo?", "Convert 20 euros to dollars.", "Set a timer for 5 minutes.",
               "Is it raining in Tokyo?"]
    names = []
    for p in prompts:
        r = ask(p, tools=TOOLS, tool_choice="required")
        c = r.choices[0]
        assert c.finish_reason == "tool_calls" and c.message.content is None, c
        name, _args = valid_call(c.message.tool_calls[0])
        assert c.message.tool_calls[0].id and c.message.tool_calls[0].type == "function"
        names.append(name)
    assert names[0] == "get_weather", names
    r = ask("Hello!", tools=TOOLS, tool_choice={"type": "function", "function": {"name": "set_timer"}})
    assert valid_call(r.choices[0].message.tool_calls[0])[0] == "set_timer"


@check("tools: auto may answer in words; a streamed call arrives whole")
def _():
    r = ask("What is the weather in Oslo?", tools=TOOLS)
    c = r.choices[0]
    assert (c.finish_reason == "tool_calls" and valid_call(c.message.tool_calls[0])) or (
        c.finish_reason == "stop" and c.message.content), c
    calls = {}
    for chunk in ask("Set a timer for 5 minutes.", tools=TOOLS, tool_choice="required", stream=True):
        for d in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            entry = calls.setdefault(d.index, {"name": "", "arguments": ""})
            entry["name"] += d.function.name or ""
            entry["arguments"] += d.function.arguments or ""
    assert len(calls) == 1 and calls[0]["name"] in PARAMS, calls
    jsonschema.validate(json.loads(calls[0]["arguments"]), PARAMS[calls[0]["name"]])


SCHEMA = {"type": "object", "properties": {
    "city": {"type": "string", "maxLength": 30}, "country": {"type": "string", "maxLength": 30},
    "population_millions": {"type": "number"}, "is_capital": {"type": "boolean"},
    "languages": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 3},
    "continent": {"enum": ["Europe", "Asia", "Africa", "America", "Oceania"]}},
    "required": ["city", "country", "is_capital", "languages", "continent"], "additionalProperties": False}


@check("response_format json_schema: the content validates (jsonschema)")
def _():
    for city in ["Paris", "Tokyo", "Nairobi"]:
        r = ask(f"Describe {city} as JSON.", response_format={
            "type": "json_schema", "json_schema": {"name": "city", "schema": SCHEMA, "strict": True}}, max_tokens=200)
        assert r.choices[0].finish_reason == "stop", r
        jsonschema.validate(json.loads(r.choices[0].message.content), SCHEMA)


class Capital(BaseModel):
    country: str
    capital: str
    founded_year: int


@check("the client's own structured output (Pydantic parse)")
def _():
    r = client.chat.completions.parse(model=CHAT, messages=[{"role": "user", "content": "France's capital, as JSON."}],
                                      response_format=Capital, temperature=0, max_tokens=120)
    parsed = r.choices[0].message.parsed
    assert isinstance(parsed, Capital) and parsed.capital, r


@check("embeddings equal numpy's reference within 1e-4, as floats and as base64")
def _():
    ref = json.load(open(os.path.join(ROOT, "crates/wb-llm/fixtures/reference.json")))["minilm"]
    r = client.embeddings.create(model=EMBED, input=ref["sentences"], encoding_format="float")
    assert [d.index for d in r.data] == list(range(len(ref["sentences"])))
    worst = max(abs(a - b) for d, e in zip(r.data, ref["embeddings"]) for a, b in zip(d.embedding, e))
    assert worst < 1e-4, worst
    assert r.usage.prompt_tokens == sum(len(ids) for ids in ref["ids"]), r.usage
    raw = httpx.post(BASE + "/embeddings", json={"model": EMBED, "input": ref["sentences"][0],
                                                 "encoding_format": "base64"}).json()
    b = base64.b64decode(raw["data"][0]["embedding"])
    v = struct.unpack(f"<{len(b) // 4}f", b)
    assert len(v) == 384 and max(abs(x - y) for x, y in zip(v, ref["embeddings"][0])) < 1e-4
    print(f"    worst |difference| over {len(ref['sentences'])} sentences: {worst:.1e}")


def refused(status, param, **body):
    base = {"model": CHAT, "messages": [{"role": "user", "content": "Hi"}]}
    base.update(body)
    try:
        client.chat.completions.create(**base)
    except openai.APIStatusError as e:
        assert e.status_code == status, (e.status_code, e.body)
        assert e.body["type"] in ("invalid_request_error", "not_found_error"), e.body
        if param is not None:
            assert e.body["param"] == param, (param, e.body)
        return e
    raise AssertionError(f"accepted: {body}")


@check("bad requests: 4xx in OpenAI's shape, naming the field; the server keeps serving")
def _():
    refused(400, "temperature", temperature=-1)
    refused(400, "temperature", temperature=3)
    refused(400, "max_tokens", max_tokens=0)
    refused(400, "max_tokens", max_tokens=10**9)
    refused(400, "messages[0].role", messages=[{"role": "robot", "content": "Hi"}])
    refused(400, "messages[1].content", messages=[{"role": "user", "content": "Hi"}, {"role": "user", "content": ""}])
    refused(400, "messages", messages=[])
    refused(400, "top_p", top_p=0)
    e = refused(400, "response_format.json_schema.schema.properties.s", response_format={
        "type": "json_schema", "json_schema": {"name": "x", "schema": {
            "type": "object", "properties": {"s": {"type": "string", "pattern": "^a+$"}}}}})
    assert "pattern" in e.body["message"], e.body
    refused(404, "model", model="gpt-9")
    e = refused(400, "messages", messages=[{"role": "user", "content": "word " * 9000}])
    assert e.body["code"] == "context_length_exceeded", e.body
    r = httpx.post(BASE + "/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "body", r.text
    r = httpx.post(BASE + "/chat/completions", content=b"x" * (2 << 20))
    assert r.status_code == 413 and "error" in r.json(), r.text
    r = httpx.post(BASE + "/embeddings", json={"model": EMBED, "input": ["fine", ""]})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input[1]", r.text
    assert httpx.get(BASE + "/nothing").status_code == 404
    assert health()["status"] == "ok"
    assert "Paris" in ask("What is the capital of France?").choices[0].message.content


def wait_for(cond, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        h = health()
        if cond(h):
            return h
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {health()}")


LONG = "Count from 1 to 1000, separated by commas."


@check("a full queue: 429 with Retry-After, at once; the accepted requests complete")
def _():
    results = {}

    def long_request(key):
        results[key] = ask(LONG, max_tokens=120)

    first = threading.Thread(target=long_request, args=("first",))
    first.start()
    wait_for(lambda h: h["busy"], "the first request to start")
    second = threading.Thread(target=long_request, args=("second",))
    second.start()
    wait_for(lambda h: h["queued"] >= 1, "the second request to queue")  # the server's queue is 1
    t = time.time()
    try:
        ask("Hi")
        raise AssertionError("a third request was accepted with a queue of 1")
    except openai.RateLimitError as e:
        assert int(e.response.headers["retry-after"]) >= 1, e.response.headers
        assert e.body["type"] == "rate_limit_error", e.body
    assert time.time() - t < 1.0, "the 429 did not come at once"
    first.join()
    second.join()
    for key in ("first", "second"):
        assert results[key].usage.completion_tokens > 0, results
    assert health()["rejected"] >= 1


@check("a client that goes away mid-stream stops its generation")
def _():
    before = health()["cancelled"]
    t = time.time()
    with httpx.stream("POST", BASE + "/chat/completions", json={
            "model": CHAT, "messages": [{"role": "user", "content": LONG}], "temperature": 0,
            "max_tokens": 4000, "stream": True}, timeout=60) as r:
        lines = 0
        for line in r.iter_lines():
            lines += line.startswith("data:")
            if lines == 5:
                break  # leaving the block closes the connection
    h = wait_for(lambda h: h["cancelled"] > before and not h["busy"], "the generation to stop", timeout=10)
    # 4,000 tokens would take minutes: the model stopped within seconds of the client leaving.
    print(f"    stopped {time.time() - t:.1f} s after the request began: {h}")


@check("shutdown (SIGTERM) finishes the request in flight, then the server exits")
def _():
    result = {}

    def request():
        result["r"] = ask(LONG, max_tokens=60)

    th = threading.Thread(target=request)
    th.start()
    wait_for(lambda h: h["busy"], "the request to start")
    os.kill(PID, signal.SIGTERM)
    th.join()
    assert result["r"].usage.completion_tokens == 60, result
    end = time.time() + 15
    while time.time() < end:
        try:
            health()
            time.sleep(0.1)
        except httpx.ConnectError:
            break  # the listener is closed; openai-e2e.sh checks the exit status
    else:
        raise AssertionError("the server still answers after SIGTERM")


print(f"all {len(passed)} checks passed (openai {openai.__version__}, jsonschema {importlib.metadata.version('jsonschema')})")
