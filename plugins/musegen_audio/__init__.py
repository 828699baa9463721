"""MIDI and WAV renderers: ABC → MIDI through abc2midi, MIDI → audio through a SoundFont synthesizer."""

import musegen
from musegen_audio.config import MidiConfig, WavConfig


@musegen.hookimpl
def register_renderers(register):
    register(
        "midi",
        "musegen_audio.midi:MidiRenderer",
        config=MidiConfig,
        summary="a .mid file per tune (ABC through the abc2midi bundled with symusic)",
    )
    register(
        "wav",
        "musegen_audio.wav:WavRenderer",
        config=WavConfig,
        summary="a .wav file per tune: SoundFont synthesis (TimGM6mb from pretty_midi by default)",
    )
