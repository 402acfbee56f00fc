"""An EVENT code the host does not know: an addition within the protocol version (as trip_peak, 37, was to
version 4) reaches an older host, which must keep reading, so that the addition needs no version bump."""
from pbgrade import wire
from pbgrade.evaluate import Evaluation
from test_edge_samples import CALIBRATION, CONFIG, IDENTITY

UNASSIGNED = 200  # no table row: a code from a later firmware


def test_an_unknown_event_code_is_kept_and_does_not_end_the_step():
    assert UNASSIGNED not in wire.EVENT_CODES
    sample = bytes.fromhex("a00f204e")  # bus 4000, current 20000
    frames = [("IDENTITY", dict(IDENTITY, proto=4)), ("CALIBRATION", CALIBRATION),
              ("SAMPLES", dict(index=0, count=5, data=sample * 5)),
              ("EVENT", dict(code=UNASSIGNED, index=5, value=-7)),
              ("SAMPLES", dict(index=5, count=5, data=sample * 5))]
    evaluation = Evaluation(CONFIG)
    for seq, (kind, body) in enumerate(frames):
        assert evaluation.feed(wire.build(kind, seq, **body)[:-1]) is not None, kind
    assert evaluation.events == [{"code": UNASSIGNED, "name": "unknown", "index": 5, "t_s": 5.0, "value": -7}]
    assert not evaluation.finished and evaluation.end_event is None
    assert evaluation.samples_received == 10  # read on past it
    evaluation.feed(wire.build("EVENT", len(frames), code=wire.Event.STOPPED, index=10, value=0)[:-1])
    assert evaluation.end_event["name"] == "stopped"
