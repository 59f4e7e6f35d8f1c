"""`make deploy`'s first step: are there AWS credentials, and do they work? One line either
way, before the CDK spends ~25 s synthesizing only to say "Unable to resolve AWS account"."""

from __future__ import annotations

import sys


def main() -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

    try:
        identity = boto3.session.Session().client("sts").get_caller_identity()
    except NoCredentialsError:
        problem = "no AWS credentials found (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    except NoRegionError:
        problem = "no AWS region (set AWS_REGION or a profile's region)"
    except ClientError as error:
        problem = f"AWS refused the credentials ({error.response.get('Error', {}).get('Code', 'error')})"
    except BotoCoreError as error:
        problem = f"AWS could not be reached to check the credentials ({type(error).__name__})"
    else:
        print(f"Deploying as {identity['Arn']} (account {identity['Account']})")
        return 0
    print(f"make deploy: {problem}. `make synth` needs no credentials.", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
