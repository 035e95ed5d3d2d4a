"""What recommendations earn: every served recommendation recorded on the stream
(:mod:`~streamrec.attribution.records`, :mod:`~streamrec.attribution.recorder`), the
``attribution`` consumer group that credits conversions to them (:mod:`~streamrec.attribution.sink`,
:mod:`~streamrec.attribution.store`) and the figures per interval (:mod:`~streamrec.attribution.report`)."""
