"""Reads the TensorBoard event files of a run folder with tensorboard's own Python reader and
prints what test/e2e/tensorboard-cli.test.ts compares with log.jsonl and run.json:

    python3 scripts/reference/read_tensorboard.py LOGDIR

Two readings, one JSON object:
- every record of every events.out.tfevents.* file through tensorboard's TFRecord reader
  (PyRecordReader_New: it checks both masked CRC-32Cs of each record and raises on a mismatch)
  and each record parsed as a tensorboard Event protobuf: the record count, the file_version,
  the steps of session-start events;
- the scalars as TensorBoard shows them: EventAccumulator (which also applies the session-start
  purge of a resumed run): {tag: [[step, value], ...]}.
"""
import glob
import json
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator, SCALARS
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New


def raw_records(path: str) -> list:
    reader = PyRecordReader_New(path)
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return events
        events.append(event_pb2.Event.FromString(reader.record()))


def main(logdir: str) -> None:
    files = sorted(glob.glob(os.path.join(logdir, "events.out.tfevents.*")))
    records, versions, starts = 0, [], []
    for path in files:
        for event in raw_records(path):
            records += 1
            if event.HasField("file_version"):
                versions.append(event.file_version)
            if event.HasField("session_log") and event.session_log.status == event_pb2.SessionLog.START:
                starts.append(event.step)
    acc = EventAccumulator(logdir, size_guidance={SCALARS: 0})
    acc.Reload()
    scalars = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    print(json.dumps({"files": [os.path.basename(f) for f in files], "records": records, "file_versions": versions, "session_starts": starts, "scalars": scalars}))


if __name__ == "__main__":
    main(sys.argv[1])
