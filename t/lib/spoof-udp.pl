#!/usr/bin/perl
# Sends UDP datagrams with a source address and port of our choosing, the
# way an attacker off the path would: a raw IPv4 socket (IPPROTO_RAW, so
# IP_HDRINCL) writes the IP and UDP headers itself. Needs root (or
# CAP_NET_RAW); the tests run it inside their own network namespace, on
# loopback only.
#
#   perl t/lib/spoof-udp.pl SRC_IP SRC_PORT DST_IP DST_PORT HEX...
#
# Each HEX is one datagram's payload. Exits 0 when all were sent.

use strict;
use warnings;

use Socket qw(PF_INET SOCK_RAW inet_aton pack_sockaddr_in);

my ($src, $sport, $dst, $dport, @payloads) = @ARGV;
die "usage: $0 SRC_IP SRC_PORT DST_IP DST_PORT HEX...\n" unless @payloads;

for my $ip ($src, $dst) {
    die "$0: loopback addresses only\n" unless $ip =~ /^127\.\d+\.\d+\.\d+$/;
}

socket(my $s, PF_INET, SOCK_RAW, 255) or die "$0: raw socket: $!\n";

my $to = pack_sockaddr_in($dport, inet_aton($dst));

for my $hex (@payloads) {
    my $data = pack('H*', $hex);
    my $udp = pack('nnnn', $sport, $dport, 8 + length $data, 0) . $data;

    # version 4, 20 bytes, DF, TTL 64, UDP; the kernel fills in the total
    # length, the id and the header checksum
    my $ip = pack('CCnnnCCna4a4', 0x45, 0, 20 + length $udp, 0, 0x4000, 64,
                  17, 0, inet_aton($src), inet_aton($dst));

    defined send($s, $ip . $udp, 0, $to) or die "$0: send: $!\n";
}

exit 0;
