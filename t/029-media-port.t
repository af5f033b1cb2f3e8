# The media port is nginx's own listening socket: a port another program
# holds fails "nginx -t" and a reload, and the running workers stay and
# keep serving. "nginx -t" passes on the port the running nginx itself
# holds.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use KrakenTest;

my $k = KrakenTest->new(workers => 2,
                        location => 'kraken_info_details on;');
my $p = $k->prefix;
my @before = $k->worker_pids;
my $conf = "$p/conf/nginx.conf";
my $good = $k->conf_text;

sub nginx_t {
    my $args = "-p $p/ -e logs/error.log -c conf/nginx.conf";
    my $out = `$KrakenTest::NGINX -t $args 2>&1`;
    return ($? == 0, $out);
}

sub write_conf {
    open my $fh, '>', $conf or die $!;
    print $fh $_[0];
    close $fh;
}

my ($ok, $out) = nginx_t();
ok($ok, 'nginx -t passes while the running nginx holds the media port')
    or diag($out);

# another program takes a UDP port (no SO_REUSEPORT)
my $squatter = IO::Socket::INET->new(Proto => 'udp',
                                     LocalAddr => '127.0.0.1',
                                     LocalPort => 0) or die $!;
my $taken = $squatter->sockport;
my $media = $k->media_port;
(my $bad = $good) =~ s/127\.0\.0\.1:$media /127.0.0.1:$taken /
    or die 'no media listen in the config';
write_conf($bad);

($ok, $out) = nginx_t();
ok(!$ok, 'nginx -t fails when another program holds the media port');
like($out, qr/media port 127\.0\.0\.1:$taken cannot be bound/,
     'and says which port') or diag($out);

# the reload is refused: nginx retries the bind, then keeps the old config
my $mark = length $k->error_log;
$k->reload;
ok(KrakenTest::wait_for(sub {
       substr($k->error_log, $mark) =~ /bind\(\) to 127\.0\.0\.1:$taken failed/
   }, 15), 'the reload fails to bind the taken port');
ok(KrakenTest::wait_for(sub {
       substr($k->error_log, $mark) =~ /still could not bind\(\)/ }, 15),
   'and gives up');
is_deeply([$k->worker_pids], \@before, 'the running workers stay');

my ($status, $info) = $k->rpc('info', [], fresh => 1);
is($status, 200, 'and answer');
my %ports = map { $_->{port} => 1 } @{ $info->{data}{workers} || [] };
is_deeply([keys %ports], [$media], 'on the old media port');

# the port is free again: the reload goes through
close $squatter;
write_conf($bad);
($ok, $out) = nginx_t();
ok($ok, 'nginx -t passes once the port is free') or diag($out);

write_conf($good);
$k->stop;
$k->assert_clean_log(undef, allow => qr/bind\(\)\ to\ 127\.0\.0\.1:$taken\ failed
                                         |still\ could\ not\ bind
                                         |media\ port\ 127\.0\.0\.1:$taken
                                          \ cannot\ be\ bound/x);

done_testing;
