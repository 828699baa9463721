"""MIDI as events: the midi-events encoder (miditok's REMI, TSD or MIDILike) and its checker, MIDI corpora and
statistics."""

import musegen
from musegen_midi.config import ChoraleConfig, MidiEventsConfig, MidiPathConfig, OneillsMidiConfig


@musegen.hookimpl
def register_encoders(register):
    register(
        "midi-events",
        "musegen_midi.encoder:MidiEventsEncoder",
        config=MidiEventsConfig,
        aliases=("midilike",),
        summary="MIDI as events, all voices in one stream (miditok REMI by default; TSD, MIDILike)",
    )


@musegen.hookimpl
def register_corpora(register):
    register(
        "bach-chorales",
        "musegen_midi.corpora:BachChorales",
        config=ChoraleConfig,
        aliases=("chorales",),
        summary="Bach's four-part chorales from music21 (MusicXML → MIDI, converted once and cached)",
    )
    register(
        "oneills-midi",
        "musegen_midi.corpora:OneillsMidi",
        config=OneillsMidiConfig,
        summary="O'Neill's Irish tunes rendered to MIDI through abc2midi",
    )
    register(
        "midi-path",
        "musegen_midi.corpora:MidiPath",
        config=MidiPathConfig,
        summary="a .mid/.midi file, or a folder of them (searched recursively)",
    )


@musegen.hookimpl
def register_evaluators(register):
    register(
        "midi-stats",
        "musegen_midi.stats:MidiStats",
        summary="MIDI pieces beside real ones: voices, key, range, held notes, density, repairs",
    )
