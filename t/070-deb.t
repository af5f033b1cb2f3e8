# The Debian package (make deb, pkg/build-deb.sh) of the module under test:
# it installs beside this machine's Debian nginx and libnginx-mod-stream,
# puts its files where Debian's own libnginx-mod-* put theirs, enables the
# module after the stream module, works from a config that includes
# /etc/nginx/modules-enabled/*.conf, and remove and purge take it all away
# again. Needs root and a usable dpkg; changes the system's package set
# for the duration of the test only (an END block purges the package).

use strict;
use warnings;

use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use KrakenTest;

my $PKG = 'libnginx-mod-kraken';
my $ENABLED = '/etc/nginx/modules-enabled';
my $LINK = "$ENABLED/70-mod-kraken.conf";
my $STREAM_LINK = "$ENABLED/50-mod-stream.conf";
my $SO = '/usr/lib/nginx/modules/ngx_kraken_module.so';
my $CONF = '/usr/share/nginx/modules-available/mod-kraken.conf';
my $DOC = "/usr/share/doc/$PKG";
my $NGINX = $KrakenTest::NGINX;


# 'install ok installed', 'deinstall ok config-files', ... or '' when
# dpkg does not know the package
sub status {
    my ($pkg) = @_;
    my $s = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null`;
    return $? == 0 ? $s : '';
}

sub installed { status($_[0]) eq 'install ok installed' }

sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

sub build_id {
    my ($file) = @_;
    my $out = `readelf -n $file 2>/dev/null`;
    return $out =~ /Build ID: ([0-9a-f]+)/ ? $1 : undef;
}


plan skip_all => 'needs root: installs a package with dpkg' if $> != 0;
plan skip_all => 'dpkg is not usable here'
    unless system('dpkg --version >/dev/null 2>&1') == 0
           && system('dpkg-deb --version >/dev/null 2>&1') == 0
           && -w '/var/lib/dpkg';
plan skip_all => "Debian's nginx is not installed" unless installed('nginx');
plan skip_all => 'libnginx-mod-stream is not installed (tools/deps.sh deb)'
    unless installed('libnginx-mod-stream');
plan skip_all => "$PKG is installed already (not replacing it;"
                 . " dpkg --purge $PKG first)" if status($PKG) ne '';
plan skip_all => "no module at $KrakenTest::MODULE"
    unless -f $KrakenTest::MODULE;

# whatever happens below, the system is left without the package
my $touched = 0;

END {
    if ($touched) {
        local $?;
        system("dpkg --purge $PKG >/dev/null 2>&1");
    }
}


# -- build --------------------------------------------------------------

my $out = tempdir('kraken-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my ($rc, $log) = run("$KrakenTest::ROOT/pkg/build-deb.sh"
                     . " $KrakenTest::MODULE $out");
is($rc, 0, 'pkg/build-deb.sh builds the package') or diag($log);
my ($deb) = $log =~ m{^(/\S+\.deb)$}m;
ok($deb && -f $deb, 'it names the .deb it built')
    or BAIL_OUT("no package: $log");

my %f;
for my $field (qw(Package Version Architecture Section Maintainer Depends
                  Description)) {
    $f{$field} = `dpkg-deb -f $deb $field`;
    chomp $f{$field};
}
my $arch = `dpkg --print-architecture`;
chomp $arch;

is($f{Package}, $PKG, "the package is $PKG");
is($f{Architecture}, $arch, "for this architecture ($arch)");
is($f{Section}, 'httpd', 'in section httpd');
like($f{Version}, qr/^[0-9][A-Za-z0-9.+~]*$/, "version $f{Version}");
like($f{Maintainer}, qr/^[^<>]+ <[^<>\s]+\@[^<>\s]+>$/, 'a Maintainer');
like($f{Description}, qr/\S/, 'a Description');
is((split m{/}, $deb)[-1], "${PKG}_$f{Version}_$arch.deb",
   'the file is named as Debian names it');

# the exact nginx ABI: the one Debian's nginx here provides
my @depends = map { s/^\s+|\s+$//gr } split /,/, $f{Depends};
my ($abi) = grep { /^nginx-abi-/ } @depends;
my $provides = `dpkg-query -W -f='\${Provides}' nginx`;
ok($abi && $abi =~ /^nginx-abi-[0-9][\w.+~-]*$/,
   'Depends on an nginx-abi-* (no version)') or diag($f{Depends});
ok($abi && grep({ s/^\s+|\s+$//gr eq $abi } split /,/, $provides),
   "which the installed nginx provides ($provides)");
ok(scalar(grep { /^libnginx-mod-stream \(>= / } @depends)
   && scalar(grep { /^libnginx-mod-stream \(<< / } @depends),
   'Depends on libnginx-mod-stream of the same nginx version');
for my $lib (qw(libc6 libssl3 libsrtp2-1 libcjson1 libnice10)) {
    ok(scalar(grep { /^\Q$lib\E( |$)/ } @depends), "Depends on $lib");
}
diag("Depends: $f{Depends}");


# -- install ------------------------------------------------------------

$touched = 1;
($rc, $log) = run("dpkg -i $deb");
is($rc, 0, 'dpkg -i installs it beside Debian\'s nginx') or diag($log);
is(status($PKG), 'install ok installed', 'dpkg -s: installed');

my @files = grep { length } split /\n/, `dpkg -L $PKG`;
my %listed = map { $_ => 1 } @files;

for my $file ($SO, $CONF, "$DOC/copyright") {
    ok($listed{$file} && -f $file, "$file installed");
}
is(build_id($SO), build_id($KrakenTest::MODULE),
   'the installed module is the module under test (GNU build ID)');

open my $fh, '<', $CONF or die "$CONF: $!";
my $conf_text = do { local $/; <$fh> };
close $fh;
is($conf_text, "load_module modules/ngx_kraken_module.so;\n",
   'modules-available/mod-kraken.conf loads it as Debian\'s do');

ok(-l $LINK, "$LINK enabled by postinst");
is(readlink($LINK), $CONF, 'linked to modules-available');
ok(-l $STREAM_LINK, "$STREAM_LINK is there (libnginx-mod-stream)");

# nginx includes modules-enabled/*.conf in glob(3) order (C locale)
my @order = map { (split m{/})[-1] } glob "$ENABLED/*.conf";
my ($si) = grep { $order[$_] eq '50-mod-stream.conf' } 0 .. $#order;
my ($ki) = grep { $order[$_] eq '70-mod-kraken.conf' } 0 .. $#order;
ok(defined $si && defined $ki && $si < $ki,
   'it is included after 50-mod-stream.conf') or diag("@order");


# -- nginx, the Debian way: include /etc/nginx/modules-enabled/*.conf ----

my $p = tempdir('kraken-deb-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# the nginx started below is gone however the test ends (this END runs
# before File::Temp's removes the prefix, and KrakenTest's teardown then
# checks nothing of it is left)
my $deb_nginx;
END {
    if ($deb_nginx && open my $pf, '<', "$deb_nginx/logs/nginx.pid") {
        my $pid = <$pf> // '';
        chomp $pid;
        if ($pid =~ /^\d+$/) {
            kill 'QUIT', $pid;
            KrakenTest::wait_for(sub { !KrakenTest::alive($pid) }, 10)
                or kill 'KILL', $pid;
        }
    }
}
mkdir "$p/$_" for qw(logs conf tmp);
# load_module's relative path: Debian's prefix has modules -> the modules
symlink '/usr/lib/nginx/modules', "$p/modules" or die "symlink: $!";
chmod 0755, $p;

my $port = KrakenTest::free_port('tcp');
my $mport = KrakenTest::free_port('udp');
open $fh, '>', "$p/conf/nginx.conf" or die $!;
print $fh <<"EOF";
include $ENABLED/*.conf;

worker_processes  1;
pid               logs/nginx.pid;
error_log         logs/error.log info;

events {
    worker_connections  64;
}

stream {
    server {
        listen  127.0.0.1:$mport udp reuseport;
        kraken_media;
    }
}

http {
    access_log  logs/access.log;

    client_body_temp_path  tmp/body;
    proxy_temp_path        tmp/proxy;
    fastcgi_temp_path      tmp/fastcgi;
    uwsgi_temp_path        tmp/uwsgi;
    scgi_temp_path         tmp/scgi;

    server {
        listen  127.0.0.1:$port;

        location = / {
            kraken_rpc;
        }
    }
}
EOF
close $fh;

my $ngx = "$NGINX -p $p/ -e logs/error.log -c conf/nginx.conf";

($rc, $log) = run("$ngx -t");
is($rc, 0, 'nginx -t accepts the media server and kraken_rpc with '
          . 'modules-enabled/*.conf')
    or diag($log);

($rc, $log) = run($ngx);
$deb_nginx = $p;
is($rc, 0, 'and nginx starts with it') or diag($log);
if ($rc == 0) {
    my $res = KrakenTest::wait_for(sub {
        my $r = HTTP::Tiny->new(timeout => 5)->request(
            'POST', "http://127.0.0.1:$port/",
            { headers => { 'Content-Type' => 'application/json' },
              content => '{"id":"deb","method":"info","params":[]}' });
        $r->{status} == 599 ? undef : $r;
    }, 10);
    is($res && $res->{status}, 200, 'the packaged module answers info')
        or diag($res ? "$res->{status} $res->{content}" : 'no answer');
    like($res ? $res->{content} : '', qr/"steering":"(ebpf|handoff)"/,
         'with its media plane running');
    run("$ngx -s quit");
    KrakenTest::wait_for(sub { !-e "$p/logs/nginx.pid" }, 10);
}

# enabling the module must not break Debian's own configuration
($rc, $log) = run("$NGINX -t");
is($rc, 0, "Debian's /etc/nginx/nginx.conf still passes nginx -t")
    or diag($log);


# -- remove, reinstall, purge -------------------------------------------

($rc, $log) = run("dpkg -r $PKG");
is($rc, 0, 'dpkg -r removes it') or diag($log);
ok(!-e $SO && !-e $CONF, 'the module and its load_module file are gone');
ok(!-l $LINK, "$LINK is gone");
ok(-l "$LINK.removed",
   'kept as 70-mod-kraken.conf.removed, as Debian\'s modules do');
($rc, $log) = run("$NGINX -t");
is($rc, 0, "Debian's nginx.conf passes nginx -t without the module")
    or diag($log);

($rc, $log) = run("dpkg -i $deb");
is($rc, 0, 'dpkg -i installs it again') or diag($log);
ok(-l $LINK && !-l "$LINK.removed", 'which enables it again');

($rc, $log) = run("dpkg --purge $PKG");
is($rc, 0, 'dpkg --purge purges it') or diag($log);
is(status($PKG), '', 'dpkg -s: not installed, nothing known of it');
my @left = grep { -e $_ || -l $_ }
           (grep { $_ ne '/.' && !m{^/(usr|usr/lib|usr/share|usr/share/doc|
                                       usr/lib/nginx|usr/lib/nginx/modules|
                                       usr/share/nginx|
                                       usr/share/nginx/modules-available)$}x }
            @files), $LINK, "$LINK.removed";
ok(!@left, 'no file of the package is left, no modules-enabled link')
    or diag("left: @left");
ok(-l $STREAM_LINK, 'libnginx-mod-stream is still enabled');
$touched = 0;

done_testing;
