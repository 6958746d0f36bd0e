#!/usr/bin/perl
# make-mmdb.pl: writes a small country MMDB and/or ASN MMDB with Debian's
# libmaxmind-db-writer-perl, for the unit tests and as the demo's fallback
# when the DB-IP database cannot be fetched.
#
#   make-mmdb.pl [--desc FILE] [--country OUT] [--asn OUT]
#                [--country-key country|registered_country|country_code]
#                [--build-epoch SECONDS]
#
# The description (FILE, or the built-in one below) has one network a line:
#   NETWORK  COUNTRY  ASN  ORGANISATION...
# with "-" for a field the network does not have. Networks with a country
# go into the country database, networks with an ASN into the ASN one.
# --country-key picks the schema: {country:{iso_code}} (GeoLite2, the
# default), {registered_country:{iso_code}} or ip-location-db's flat
# {country_code}.
# --build-epoch fixes the metadata's build time (otherwise now), so that
# the same description always gives the same bytes (pdnsx-scenario).
# Exits 77 if the Perl module is missing (the tests then skip).
use strict;
use warnings;
use Getopt::Long;

if (!eval { require MaxMind::DB::Writer::Tree; 1 }) {
    print STDERR "make-mmdb.pl: MaxMind::DB::Writer::Tree missing "
      . "(apt-get install libmaxmind-db-writer-perl)\n";
    exit 77;
}

my ($desc, $country_out, $asn_out, $key, $epoch) = (undef, undef, undef, 'country', undef);
GetOptions(
    'desc=s'        => \$desc,
    'country=s'     => \$country_out,
    'asn=s'         => \$asn_out,
    'country-key=s' => \$key,
    'build-epoch=i' => \$epoch,
) or die "usage: make-mmdb.pl [--desc FILE] [--country OUT] [--asn OUT] [--country-key K]\n";
die "make-mmdb.pl: nothing to write (--country and/or --asn)\n"
  unless defined $country_out || defined $asn_out;
die "make-mmdb.pl: --country-key must be country, registered_country or country_code\n"
  unless $key =~ /^(country|registered_country|country_code)$/;

my @lines;
if (defined $desc) {
    open my $fh, '<', $desc or die "make-mmdb.pl: $desc: $!\n";
    @lines = <$fh>;
    close $fh;
} else {
    @lines = <DATA>;
}

my (@country, @asn);
for my $line (@lines) {
    $line =~ s/#.*//;
    next unless $line =~ /\S/;
    my ($net, $cc, $num, $org) = split ' ', $line, 4;
    die "make-mmdb.pl: bad line: $line" unless defined $num;
    $org = '-' unless defined $org;
    $org =~ s/\s+$//;
    push @country, [$net, $cc] if $cc ne '-';
    push @asn, [$net, $num, $org] if $num ne '-';
}

my %types = (
    country                        => 'map',
    registered_country             => 'map',
    iso_code                       => 'utf8_string',
    country_code                   => 'utf8_string',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

sub new_tree {
    my ($type) = @_;
    my $tree = MaxMind::DB::Writer::Tree->new(
        ip_version            => 6,
        record_size           => 24,
        database_type         => $type,
        languages             => ['en'],
        description           => { en => "pdnsx test database ($type)" },
        map_key_type_callback => sub { $types{ $_[0] } },
    );
    # the writer's own setter for this (its tests compare trees' bytes)
    $tree->_set_build_epoch($epoch) if defined $epoch;
    return $tree;
}

sub write_tree {
    my ($tree, $out) = @_;
    my $tmp = "$out.tmp.$$";
    open my $fh, '>:raw', $tmp or die "make-mmdb.pl: $tmp: $!\n";
    $tree->write_tree($fh);
    close $fh or die "make-mmdb.pl: $tmp: $!\n";
    rename $tmp, $out or die "make-mmdb.pl: $out: $!\n";
}

if (defined $country_out) {
    my $tree = new_tree('pdnsx-test-country');
    for my $n (@country) {
        my ($net, $cc) = @$n;
        my $rec = $key eq 'country_code' ? { country_code => $cc } : { $key => { iso_code => $cc } };
        $tree->insert_network($net, $rec);
    }
    write_tree($tree, $country_out);
}
if (defined $asn_out) {
    my $tree = new_tree('pdnsx-test-asn');
    for my $n (@asn) {
        my ($net, $num, $org) = @$n;
        my %rec = (autonomous_system_number => $num + 0);
        $rec{autonomous_system_organization} = $org if $org ne '-';
        $tree->insert_network($net, \%rec);
    }
    write_tree($tree, $asn_out);
}
exit 0;

__DATA__
# network          country  asn    organisation
93.184.216.0/24    US       15133  Edgecast
2606:2800::/32     US       15133  Edgecast
151.101.0.0/16     US       54113  Fastly
2a04:4e40::/32     -        54113  Fastly
104.16.0.0/12      US       13335  Cloudflare
2606:4700::/32     US       13335  Cloudflare
1.1.1.0/24         AU       13335  Cloudflare
8.8.8.0/24         US       15169  Google
2001:4860::/32     US       15169  Google
185.15.56.0/22     NL       14907  Wikimedia Foundation
46.4.0.0/16        DE       24940  Hetzner Online GmbH
2a01:4f8::/29      DE       24940  Hetzner Online GmbH
62.210.0.0/16      FR       12876  Scaleway
2001:bc8::/32      FR       12876  Scaleway
133.242.0.0/16     JP       9370   SAKURA Internet
2001:e42::/32      JP       2497   -
200.147.0.0/16     BR       -      -
177.71.128.0/17    BR       16509  Amazon.com, Inc.
