"""Word count on strom: the main example (``make run``).

Counts the words of a built-in text, or of ``--input`` (a file or a directory of text files),
and prints ``(word,count)`` lines, or writes them as part files under ``--output``. Runs in
BATCH mode, so each word's final count is emitted once::

    python examples/word_count.py
    python examples/word_count.py --input notes/ --output counts/
    python examples/word_count.py -p 2     # two TaskManager processes, one per core
"""

from __future__ import annotations

import argparse

from strom.common import Encoder, Types, WatermarkStrategy
from strom.datastream import RuntimeExecutionMode, StreamExecutionEnvironment
from strom.datastream.connectors.file_system import (
    FileSink,
    FileSource,
    OutputFileConfig,
    RollingPolicy,
    StreamFormat,
)

TEXT = [
    "It was the best of times, it was the worst of times,",
    "it was the age of wisdom, it was the age of foolishness,",
    "it was the epoch of belief, it was the epoch of incredulity,",
    "it was the season of Light, it was the season of Darkness,",
    "it was the spring of hope, it was the winter of despair.",
]


def tokenize(line: str):
    for word in line.lower().split():
        word = word.strip(".,;:!?\"'()")
        if word:
            yield word


def build(env: StreamExecutionEnvironment, input_path: str | None, output_path: str | None) -> None:
    if input_path:
        source = (FileSource.for_record_stream_format(StreamFormat.text_line_format(), input_path)
                  .process_static_file_set().build())
        lines = env.from_source(source, WatermarkStrategy.no_watermarks(), "text files")
    else:
        lines = env.from_collection(TEXT)

    counts = (
        lines.flat_map(tokenize)
        .map(lambda word: (word, 1), output_type=Types.TUPLE([Types.STRING(), Types.INT()]))
        .key_by(lambda pair: pair[0])
        .reduce(lambda a, b: (a[0], a[1] + b[1]))
    )

    if output_path:
        counts.sink_to(
            FileSink.for_row_format(output_path, Encoder.simple_string_encoder())
            .with_output_file_config(OutputFileConfig.builder().with_part_prefix("counts")
                                     .with_part_suffix(".txt").build())
            .with_rolling_policy(RollingPolicy.default_rolling_policy())
            .build()
        )
    else:
        counts.print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", help="a text file or a directory of text files")
    parser.add_argument("--output", help="a directory for the result's part files")
    parser.add_argument("-p", "--parallelism", type=int, default=None,
                        help="parallel tasks (default: parallelism.default, or `strom run -p`); "
                             "above 1 each runs in its own TaskManager process")
    args = parser.parse_args()

    env = StreamExecutionEnvironment.get_execution_environment()
    env.set_runtime_mode(RuntimeExecutionMode.BATCH)
    if args.parallelism is not None:
        env.set_parallelism(args.parallelism)
    build(env, args.input, args.output)
    env.execute("word count")


if __name__ == "__main__":
    main()
