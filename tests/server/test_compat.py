"""Other clients against `narrator serve`: the official ElevenLabs SDK and the
Python example of the service's WebSocket guide, unchanged but for the URL."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import signal
import subprocess
import sys

import miniaudio
import pytest
import websockets

from narrator.server.app import EmbeddedServer

KEY = "sdk-test-key"
TEXT = ("The twilight sun cast its warm golden hues upon the vast rolling fields, saturating the landscape "
        "with an ethereal glow. Silently, the meandering brook continued its ceaseless journey.")


def self_signed_certificate(folder):
    """A certificate for 127.0.0.1: the SDK always speaks wss://."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def served(tmp_path):
    """`narrator serve` as a user runs it, on a free port, over TLS."""
    cert, key = self_signed_certificate(tmp_path)
    (tmp_path / "api-key").write_text(KEY + "\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "narrator", "serve", "--port", "0",
         "--api-key-file", str(tmp_path / "api-key"), "--certfile", str(cert), "--keyfile", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = process.stderr.readline()
    assert line.startswith("listening on wss://127.0.0.1:"), line
    yield line.split()[-1], cert, process
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_official_sdk_convert_realtime(served, monkeypatch):
    from elevenlabs.client import ElevenLabs

    url, cert, process = served
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    client = ElevenLabs(api_key=KEY, base_url=url.replace("wss://", "https://"))

    def text():
        yield "The twilight sun cast its warm golden hues, "
        yield "upon the vast rolling fields. "
        yield "Silently, the brook went on."

    model = "eleven_flash_v2_5"
    audio = b"".join(client.text_to_speech.convert_realtime(voice_id="en-us", text=text(), model_id=model))
    decoded = miniaudio.mp3_read_s16(audio)
    assert decoded.sample_rate == 44100 and decoded.num_frames / decoded.sample_rate > 3
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=10)
    stats = json.loads(out.strip().splitlines()[-1])
    assert stats["connections"] == 1 and stats["characters"] >= 100 and stats["audio_seconds"] > 3


def test_official_sdk_sees_a_wrong_key(served, monkeypatch):
    from elevenlabs.client import ElevenLabs
    from elevenlabs.core.api_error import ApiError

    url, cert, _ = served
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    client = ElevenLabs(api_key="wrong", base_url=url.replace("wss://", "https://"))
    with pytest.raises(ApiError) as caught:
        b"".join(client.text_to_speech.convert_realtime(voice_id="en-us", text=iter(["Hello there."])))
    assert caught.value.status_code == 1008


def test_the_guides_python_example():
    """The guide's code: key in the first message, text, end, then listen."""

    async def example(uri):
        chunks = []
        async with websockets.connect(uri) as websocket:
            await websocket.send(json.dumps({
                "text": " ",
                "voice_settings": {"stability": 0.5, "similarity_boost": 0.8, "use_speaker_boost": False},
                "generation_config": {"chunk_length_schedule": [120, 160, 250, 290]},
                "xi_api_key": KEY,
            }))
            await websocket.send(json.dumps({"text": TEXT}))
            await websocket.send(json.dumps({"text": ""}))
            while True:
                try:
                    message = await websocket.recv()
                    data = json.loads(message)
                    if data.get("audio"):
                        chunks.append((base64.b64decode(data["audio"]), data["alignment"]))
                    elif data.get("isFinal"):
                        break
                except websockets.exceptions.ConnectionClosed:
                    break
            await websocket.wait_closed()
            return chunks, websocket.close_code

    async def main():
        async with EmbeddedServer(api_key=KEY) as server:
            uri = f"{server.url}/v1/text-to-speech/en-us/stream-input?model_id=eleven_flash_v2_5"
            return await example(uri)

    chunks, close_code = asyncio.run(main())
    assert close_code == 1000 and len(chunks) >= 2  # the schedule cut the text into generations
    spoken = "".join("".join(alignment["chars"]) for _, alignment in chunks)
    assert spoken.split() == TEXT.split()
    for audio, alignment in chunks:
        decoded = miniaudio.mp3_read_s16(audio)
        duration_ms = decoded.num_frames * 1000 / decoded.sample_rate
        starts = alignment["charStartTimesMs"]
        assert starts == sorted(starts) and starts[0] >= 0 and starts[-1] < duration_ms


def test_wrong_path_is_refused_at_the_handshake():
    async def main():
        async with EmbeddedServer() as server:
            with pytest.raises(websockets.exceptions.InvalidStatus) as caught:
                async with websockets.connect(f"{server.url}/v1/text-to-speech/x/other"):
                    pass
            return caught.value.response.status_code

    assert asyncio.run(main()) == 403


def test_silence_past_the_inactivity_timeout_closes_1008():
    async def main():
        async with (
            EmbeddedServer() as server,
            websockets.connect(
                f"{server.url}/v1/text-to-speech/en-us/stream-input?inactivity_timeout=1"
            ) as ws,
        ):
            await ws.send(json.dumps({"text": " "}))
            with pytest.raises(websockets.exceptions.ConnectionClosed) as caught:
                await asyncio.wait_for(ws.recv(), 5)
            return caught.value.rcvd

    closed = asyncio.run(main())
    assert closed.code == 1008 and "timeout of 1 seconds" in closed.reason
