"""Landing rows in object storage, vendor-neutral: the format registry, the partition writer and its commit
protocol, the manifest, the reader, partition names, the deferral checkpoint."""
