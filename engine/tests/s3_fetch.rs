//! S3 fetch tests against a local moto server (work in progress).
