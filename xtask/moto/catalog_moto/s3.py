"""GetBucketVersioning answered with the XML root AWS uses.

Test-harness extension of moto, not AWS behaviour. moto 5.2.5 serializes the
answer as <GetBucketVersioningResponse>; AWS (and the API model every SDK is
generated from) names the root <VersioningConfiguration>, with a <Status> only
once versioning was ever set. boto3 reads either; the AWS SDK for Rust refuses
moto's ("expected VersioningConfiguration"), so the answer is rebuilt here
from moto's own backend.
"""

from xml.sax.saxutils import escape

from moto.s3.responses import S3Response

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"


def get_bucket_versioning(self: S3Response):  # type: ignore[no-untyped-def]
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{escape(status)}</Status>" if status else ""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<VersioningConfiguration xmlns="{S3_NAMESPACE}">{inner}</VersioningConfiguration>'
    )
    return 200, {"Content-Type": "application/xml"}, body


S3Response.get_bucket_versioning = get_bucket_versioning  # type: ignore[method-assign]
