"""Speech to text on this machine: Moonshine's English model, which the `moonshine-voice`
wheel (pinned at 0.0.73, the last to carry the model inside it) ships; nothing is downloaded.

Audio is decoded with soundfile (its wheel's libsndfile reads OGG/Opus), mixed to mono,
resampled to 16 kHz with soxr and cut to its first `max_seconds`. What libsndfile cannot
read (a video note's MP4, an M4A recording: AAC) is decoded by PyAV, whose wheel carries
FFmpeg. The model loads on first
use, in the one thread that transcribes, off the event loop; each note is bounded in time.
"""

from __future__ import annotations

import asyncio
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.services.ports import Unheard

log = logging.getLogger(__name__)
RATE = 16_000  # what the model listens at


class MoonshineTranscriber:
    """The default `Transcriber`: English, offline, one note at a time."""

    def __init__(self, *, max_seconds: float = 120.0, timeout: float = 30.0) -> None:
        self.max_seconds = max_seconds
        self.timeout = timeout
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="speech")
        self._model: Any = None

    async def transcribe(self, audio: bytes) -> str | None:
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self._thread, self._hear, audio), self.timeout)
        except TimeoutError as exc:
            raise Unheard(f"transcription took over {self.timeout:.0f} s") from exc

    def _hear(self, audio: bytes) -> str:
        samples = self._decode(audio)
        if self._model is None:
            try:
                from moonshine_voice import ModelArch, Transcriber  # noqa: PLC0415
                from moonshine_voice.utils import get_model_path  # noqa: PLC0415

                self._model = Transcriber(str(get_model_path("tiny-en")), ModelArch.TINY)
            except Exception as exc:
                raise Unheard(f"the model could not load: {type(exc).__name__}") from exc
            log.info("speech: Moonshine tiny-en loaded")
        try:
            transcript = self._model.transcribe_without_streaming(samples, RATE)
        except Exception as exc:
            raise Unheard(f"the model failed: {type(exc).__name__}") from exc
        return " ".join(line.text.strip() for line in transcript.lines if line.text).strip()

    def _decode(self, audio: bytes) -> list[float]:
        import soundfile  # noqa: PLC0415 - voice notes are rare next to text
        import soxr  # noqa: PLC0415

        try:  # only the first `max_seconds` are decoded: a long note costs no more
            with soundfile.SoundFile(io.BytesIO(audio)) as sound:
                rate = sound.samplerate
                data = sound.read(int(self.max_seconds * rate), dtype="float32",
                                  always_2d=True)
        except Exception:  # libsndfile says "unknown format", "not a valid file"...
            return self._decode_container(audio)
        mono = data.mean(axis=1)
        if len(mono) == 0:
            raise Unheard("no sound in it")
        resampled = soxr.resample(mono, rate, RATE) if rate != RATE else mono
        samples: list[float] = resampled.tolist()
        return samples

    def _decode_container(self, audio: bytes) -> list[float]:
        """The first audio track of an MP4 or M4A (AAC), as 16 kHz mono samples."""
        import av  # noqa: PLC0415
        import numpy  # noqa: PLC0415

        wanted = int(self.max_seconds * RATE)
        parts: list[Any] = []
        try:
            with av.open(io.BytesIO(audio), mode="r") as container:
                resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
                for frame in container.decode(audio=0):
                    parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
                    if sum(len(p) for p in parts) >= wanted:
                        break
                parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        except Exception as exc:  # FFmpeg's "invalid data found", no audio track...
            raise Unheard(f"not audio it can decode ({type(exc).__name__})") from exc
        if not parts:
            raise Unheard("no sound in it")
        samples: list[float] = numpy.concatenate(parts)[:wanted].tolist()
        if not samples:
            raise Unheard("no sound in it")
        return samples

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)

