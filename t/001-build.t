# The module is built, loads into Debian's nginx, and every example config
# in conf/ passes nginx -t.

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use KrakenTest;

ok(-f $KrakenTest::MODULE, 'the module is built');

for my $conf (glob "$KrakenTest::ROOT/conf/*.conf") {
    my $p = tempdir('kraken-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$p/$_" for qw(logs tmp modules conf);
    symlink $KrakenTest::MODULE, "$p/modules/ngx_kraken_module.so";
    symlink $KrakenTest::STREAM_MODULE, "$p/modules/ngx_stream_module.so";
    symlink "$KrakenTest::ROOT/conf/html", "$p/html";
    system('cp', $conf, "$p/conf/") == 0 or die;
    my $name = (split m{/}, $conf)[-1];

    my $out = `$KrakenTest::NGINX -p $p/ -e logs/error.log -c conf/$name -t 2>&1`;
    is($?, 0, "nginx -t passes on conf/$name") or diag($out);
}

my $k = KrakenTest->new(workers => 1);
my ($status, $json) = $k->rpc('info', []);
is($status, 200, 'a started nginx answers info');
ok(exists $json->{data}{active_peers}, 'with the engine state');
like($k->error_log, qr/kraken: worker 0 \(slot 0\) media on port \d+/,
     'the worker says where its media port is');

$k->stop;
$k->assert_clean_log;

done_testing;
