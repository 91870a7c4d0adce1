"""conninfo parsing, building and masking: no password may ever leave through mask()."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption


@pytest.mark.parametrize(
    "given_conninfo, expected",
    [
        ("host=node1 user=repmgr dbname=repmgr", "host=node1 user=repmgr dbname=repmgr"),
        ("host=node1 password=s3cret user=repmgr", "host=node1 password=******** user=repmgr"),
        ("host=node1 password='with space' user=x", "host=node1 password=******** user=x"),
        ("postgresql://repmgr:s3cret@node1:5432/repmgr", None),
    ],
    ids=["no-password", "keyword-password", "quoted-password", "uri-password"],
)
def test_mask_hides_the_password(given_conninfo, expected):
    masked = conninfo.mask(given_conninfo)
    assert "s3cret" not in masked and "with space" not in masked
    if expected is not None:
        assert conninfo.parse(masked) == conninfo.parse(expected)


def test_mask_of_unparsable_text_still_hides_the_password():
    assert conninfo.mask("host=node1 password=s3cret bogus") == "host=node1 password=******** bogus"
    assert "s3cret" not in conninfo.mask_text("failed: postgresql://u:s3cret@h/db")
    assert conninfo.mask_text("password 'x' is s3cret", secrets=("s3cret",)) == "password 'x' is ********"


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1))
def test_mask_never_returns_a_password_given_as_keyword(password):
    text = conninfo.build("host=node1 user=repmgr", password=password)
    masked = conninfo.mask(text)
    assert conninfo.parse(masked)["password"] == conninfo.MASK


def test_parse_names_the_option_and_hides_the_password():
    with pytest.raises(InvalidOption) as error:
        conninfo.parse("host=node1 password=s3cret nonsense", "upstream_conninfo")
    assert str(error.value).startswith("upstream_conninfo is not a valid libpq connection string")
    assert "s3cret" not in str(error.value)
    with pytest.raises(InvalidOption, match="conninfo must be a non-empty libpq connection string"):
        conninfo.parse("   ")


def test_replication_conninfo_is_built_as_repmgr_builds_primary_conninfo():
    result = conninfo.parse(conninfo.replication_conninfo(
        "host=node1 port=5433 user=repmgr dbname=repmgr connect_timeout=2 application_name=x",
        "node2", user="replicator", passfile="/var/lib/postgresql/.pgpass"))
    assert result == {"host": "node1", "port": "5433", "user": "replicator", "connect_timeout": "2",
                      "passfile": "/var/lib/postgresql/.pgpass", "application_name": "node2"}


def test_host_and_port():
    assert conninfo.host_and_port("host=node1 port=5433") == ("node1", 5433)
    assert conninfo.host_and_port("host=node1") == ("node1", 5432)
