package KrakenTest;

# A real nginx with the module loaded, on a temporary prefix and free
# ports, for one test file. Core Perl only.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Scalar::Util ();
use Time::HiRes qw(time sleep);
use Exporter qw(import);

our @EXPORT_OK = qw(summary report_checks tail);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $NGINX = $ENV{KRAKEN_NGINX} || '/usr/sbin/nginx';
our $MODULE = $ENV{KRAKEN_MODULE} || "$ROOT/build/ngx_kraken_module.so";

# Debian's stream module, which ours needs loaded first
our $STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

# the test file, in the names of its prefixes (t/999-leftovers.t names
# the test that left an nginx running by them)
our $TEST = (File::Basename::basename($0) =~ s/\.t$//r) =~ s/[^\w.-]/_/gr;
$TEST = 'x' if $TEST eq '' || $TEST eq '-e';

# the prefixes this test made, the nginx still running on them, and the
# node client running now
our (@PREFIXES, %LIVE, $NODE);

my $JSON = JSON::PP->new->canonical->allow_nonref;


sub json { $JSON }


# A real offer Chromium 156 made here (audio only; t/data/README.md)
my $CHROMIUM_OFFER;

sub chromium_offer {
    return $CHROMIUM_OFFER //= do {
        local $/;
        open my $fh, '<', "$ROOT/t/data/chromium-156-offer-audio.sdp"
            or die "offer: $!";
        <$fh>;
    };
}


# Polls $cond until it returns true or $seconds pass; returns its value.
sub wait_for {
    my ($cond, $seconds, $what) = @_;
    my $end = time + ($seconds // 10);
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return $v if time >= $end;
        sleep 0.05;
    }
}


# Ports below the kernel's ephemeral range (32768 up by default): a port
# probed free here is bound later (media ports of a second generation only
# at a reload), and the clients' own sockets, bound meanwhile to ephemeral
# ports, cannot take it.
sub free_port {
    my ($proto, $count) = @_;
    $count //= 1;

    for (1 .. 200) {
        my $base = 10000 + int(rand(22000));
        my @socks;
        my $ok = 1;
        for my $i (0 .. $count - 1) {
            my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                          LocalPort => $base + $i,
                                          Proto => $proto,
                                          ($proto eq 'tcp'
                                           ? (Listen => 1, ReuseAddr => 1)
                                           : ()));
            unless ($s) {
                $ok = 0;
                last;
            }
            push @socks, $s;
        }
        close $_ for @socks;
        return $base if $ok;
    }

    die "no free $proto port";
}


sub new {
    my ($class, %opt) = @_;
    my $self = bless { %opt }, $class;

    $self->{workers} //= 1;
    $self->{media} //= 1;
    $self->{prefix} = tempdir("kraken-t-$TEST-XXXXXX", TMPDIR => 1,
                              CLEANUP => !$ENV{KRAKEN_KEEP});
    push @PREFIXES, $self->{prefix};
    $self->{port} = free_port('tcp');

    # one media port for every worker and generation (a stream server)
    $self->{media_port} = free_port('udp', 1) if $self->{media};

    my $p = $self->{prefix};
    mkdir "$p/$_" for qw(logs conf tmp modules);
    symlink $MODULE, "$p/modules/ngx_kraken_module.so"
        or die "symlink: $!";

    $self->{conf_text} = $self->config;
    open my $fh, '>', "$p/conf/nginx.conf" or die $!;
    print $fh $self->{conf_text};
    close $fh;

    $self->start unless $opt{no_start};

    return $self;
}


sub config {
    my ($self) = @_;
    my $media = '';
    my $demo = '';

    # media: the stream server; stream: directives in it; listen: the
    # listen's parameters (reuseport unless told otherwise)
    if ($self->{media}) {
        my $listen = $self->{listen} // 'udp reuseport';
        my $extra = $self->{stream} // '';
        $media = <<"STREAM";
stream {
    server {
        listen  127.0.0.1:$self->{media_port} $listen;
        kraken_media;
        kraken_media_announce  127.0.0.1;
        $extra
    }
}
STREAM
    }

    if ($self->{demo}) {
        $demo = "kraken_demo on;\n            root $ROOT/conf/html;\n"
              . "            index index.html;";
    }

    my $main = $self->{main} // '';
    # http_listen: the RPC listen's parameters; reuseport spreads fresh
    # connections over the workers by the kernel's hash, never all on one
    my $http_listen = $self->{http_listen} // '';
    my $http = $self->{http} // '';
    my $server = $self->{server} // '';
    my $location = $self->{location} // '';

    return <<"EOF";
load_module $STREAM_MODULE;
load_module modules/ngx_kraken_module.so;

worker_processes  $self->{workers};
pid               logs/nginx.pid;
error_log         logs/error.log info;
$main

events {
    worker_connections  1024;
}

$media

http {
    access_log  logs/access.log;

    client_body_temp_path  tmp/body;
    proxy_temp_path        tmp/proxy;
    fastcgi_temp_path      tmp/fastcgi;
    uwsgi_temp_path        tmp/uwsgi;
    scgi_temp_path         tmp/scgi;

    $http

    server {
        listen  127.0.0.1:$self->{port} $http_listen;

        client_max_body_size  64k;
        client_body_buffer_size  64k;

        $server

        location = / {
            kraken_rpc;
            $demo
            $location
        }

        location / {
            root $ROOT/conf/html;
        }
    }
}
EOF
}


# make test SANITIZE=1 (KRAKEN_SANITIZE=1): the module is built with ASan
# and UBSan, Debian's nginx is not, so every nginx command of the tests
# (start, -t, -s) runs with the sanitizers' runtime preloaded: $NGINX
# becomes sanitized_nginx() below. Only nginx gets it, no node client.
# Reports go to files under the prefix (logs/sanitizer/report.PID), and
# assert_clean_log fails when there is one.
our $SANITIZE = $ENV{KRAKEN_SANITIZE};
our $REAL_NGINX = $NGINX;

$NGINX = "$^X -I$ROOT/t/lib -MKrakenTest"
         . " -e 'KrakenTest::sanitized_nginx()' --" if $SANITIZE;


# The environment of a sanitized nginx on $prefix: no leak check (nginx
# does not free its pools at exit), and a process stops at its first
# report, so that a bug cannot pass unseen. (UBSan reads its options only
# at its first report, after nginx overwrote the environment with the
# process title: its reports go to the error log, and the module is built
# with -fno-sanitize-recover so that they stop the worker all the same.)
sub sanitizer_env {
    my ($prefix) = @_;
    my $rt = $ENV{KRAKEN_ASAN_RT} || `gcc -print-file-name=libasan.so`;
    my $log = "log_path=$prefix/logs/sanitizer/report";

    chomp $rt;

    return (LD_PRELOAD => $rt,
            ASAN_OPTIONS => "detect_leaks=0:halt_on_error=1:$log",
            UBSAN_OPTIONS => "halt_on_error=1:print_stacktrace=1:$log");
}


# perl -MKrakenTest -e 'KrakenTest::sanitized_nginx()' -- ARGS: runs
# nginx ARGS with the runtime preloaded, reports under ARGS' -p prefix.
sub sanitized_nginx {
    my $prefix = '.';

    for my $i (0 .. $#ARGV - 1) {
        $prefix = $ARGV[$i + 1] if $ARGV[$i] eq '-p';
    }

    # the workers run as nobody: a way into the prefix, a place to write
    if (-d "$prefix/logs") {
        mkdir "$prefix/logs/sanitizer";
        chmod 01777, "$prefix/logs/sanitizer";
        chmod((stat $prefix)[2] & 07777 | 0111, $prefix);
    }

    my %env = sanitizer_env($prefix);
    @ENV{keys %env} = values %env;

    exec $REAL_NGINX, @ARGV or die "exec $REAL_NGINX: $!\n";
}


# The sanitizers' reports about this nginx, from their files and from the
# error log (where nginx's stderr goes); '' when there is none.
sub sanitizer_reports {
    my ($self) = @_;
    my @files = sort glob "$self->{prefix}/logs/sanitizer/*";
    my $text = '';

    # the first reports in full, then their names only (a worker that
    # stops is started again, and may stop again)
    for my $f (@files) {
        my $r = '';
        if (length $text < 24000 && open my $fh, '<', $f) {
            local $/;
            $r = substr(<$fh> // '', 0, 12000);
            close $fh;
        }
        $text .= "$f:\n$r\n";
    }

    my @lines = grep { /==\d+==ERROR: |: runtime error: |^SUMMARY: \w*San/
                       || /ERROR: Can't open file: / }
                split /\n/, $self->error_log;
    $text .= join("\n", 'error.log:', @lines) . "\n" if @lines;

    return $text;
}


sub start {
    my ($self) = @_;
    my $p = $self->{prefix};

    my $out = `$NGINX -p $p/ -e logs/error.log -c conf/nginx.conf 2>&1`;
    die "nginx did not start: $out\n" . $self->error_log
        . $self->sanitizer_reports if $? != 0;

    # from here on this nginx is stopped whatever happens (stop, DESTROY,
    # END, a signal), also if it never answers below
    $self->{started} = 1;
    $LIVE{$self->{prefix}} = $self;
    Scalar::Util::weaken($LIVE{$self->{prefix}});

    my $up = wait_for(sub {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}",
                              Proto => 'tcp')
    }, 10);
    die "nginx is not listening\n" . $self->error_log
        . $self->sanitizer_reports unless $up;

    wait_for(sub { scalar($self->worker_pids) >= $self->{workers} }, 10);
    $self->{started} = 1;
}


sub port { $_[0]{port} }
sub media_port { $_[0]{media_port} }
sub prefix { $_[0]{prefix} }
sub conf_text { $_[0]{conf_text} }
sub url { "http://127.0.0.1:$_[0]{port}/" }


sub master_pid {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/nginx.pid" or return undef;
    my $pid = <$fh>;
    close $fh;
    chomp $pid if defined $pid;
    return $pid;
}


sub worker_pids {
    my ($self) = @_;
    my $master = $self->master_pid or return ();
    my @pids;

    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh>;
        close $fh;
        next unless $stat && $stat =~ /^\d+ \(.*\) \S (\d+)/;
        push @pids, $pid if $1 == $master;
    }
    closedir $dh;

    @pids = sort { $a <=> $b } @pids;

    return wantarray ? @pids : scalar @pids;
}


sub http {
    my ($self, %o) = @_;
    return HTTP::Tiny->new(timeout => 15, keep_alive => !$o{fresh});
}


sub request {
    my ($self, $method, $path, $headers, $body) = @_;
    $self->{ua} //= $self->http;
    return $self->{ua}->request($method,
                                "http://127.0.0.1:$self->{port}$path",
                                { headers => $headers || {},
                                  (defined $body ? (content => $body) : ()) });
}


sub post {
    my ($self, $body, $headers) = @_;
    return $self->request('POST', '/',
                          { 'Content-Type' => 'application/json',
                            %{ $headers || {} } }, $body);
}


# ($http_status, $decoded_json_or_undef, $raw_body)
sub rpc {
    my ($self, $method, $params, %o) = @_;
    my %call = (method => $method, params => $params);
    $call{id} = $o{id} // 'kraken-test';
    delete $call{id} if exists $o{id} && !defined $o{id};

    my $ua = $o{fresh} ? $self->http(fresh => 1)
                       : ($self->{ua} //= $self->http);
    my $res = $ua->request('POST', $self->url,
                           { headers => { 'Content-Type'
                                          => 'application/json' },
                             content => $JSON->encode(\%call) });
    my $json = eval { $JSON->decode($res->{content}) };

    return ($res->{status}, $json, $res->{content});
}


sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/error.log" or return '';
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text // '';
}


# allow => qr//: lines the test provoked on purpose
sub assert_clean_log {
    my ($self, $name, %o) = @_;
    my @bad = grep { /\[(crit|alert|emerg)\]/
                     && !($o{allow} && /$o{allow}/) }
              split /\n/, $self->error_log;
    Test::More::ok(!@bad, $name // 'the error log has no crit, alert or emerg')
        or Test::More::diag(join "\n", @bad);

    # SANITIZE=1: one more assertion; a report fails any run
    my $reports = $self->sanitizer_reports;
    if ($SANITIZE || $reports ne '') {
        Test::More::ok($reports eq '', 'no sanitizer report (ASan, UBSan)')
            or Test::More::diag($reports);
    }
}


sub signal {
    my ($self, $sig) = @_;
    my $p = $self->{prefix};
    my $out = `$NGINX -p $p/ -e logs/error.log -c conf/nginx.conf -s $sig 2>&1`;
    return $? == 0;
}


sub reload {
    my ($self) = @_;
    return $self->signal('reload');
}


sub stop {
    my ($self) = @_;
    return unless $self->{started};
    $self->{started} = 0;
    delete $LIVE{$self->{prefix}};

    # the pid file, else whatever still runs on this prefix (a master
    # that never wrote it, or whose file is gone)
    my @masters = grep { defined } $self->master_pid;
    @masters = map { $_->[0] } grep { $_->[2] }
               prefix_nginx($self->{prefix}) unless @masters;
    return 1 unless @masters;

    kill 'QUIT', @masters;
    my $gone = wait_for(sub { !grep { alive($_) } @masters }, 10);
    unless ($gone) {
        kill 'KILL', @masters, map { $_->[0] } prefix_nginx($self->{prefix});
        wait_for(sub { !grep { alive($_) } @masters }, 5);
    }

    # workers outlive a master killed by -9 for a moment
    my @rest = map { $_->[0] } prefix_nginx($self->{prefix});
    if (@rest) {
        kill 'KILL', @rest;
        wait_for(sub { !grep { alive($_) } @rest }, 5);
    }

    return $gone;
}


sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if $self->{started};
}


# A process that runs (a zombie waits for its parent, the namespace's init
# when nginx daemonized, to reap it: it holds no port any more).
sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    close $fh;
    return $stat !~ /^\d+ \(.*\) Z /s;
}


# The nginx processes of this network namespace whose command line names
# $prefix (undef: any kraken-t-* prefix), and their workers (whose command
# line names no prefix): [pid, command line, 1 for a master, parent pid].
sub prefix_nginx {
    my ($prefix) = @_;
    my $ns = readlink '/proc/self/ns/net' // '';
    my (@nginx, @found, %master);

    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        next if $pid == $$;
        open my $fh, '<', "/proc/$pid/cmdline" or next;
        my $cmd = do { local $/; <$fh> } // '';
        close $fh;
        next unless $cmd =~ /^nginx: |nginx\0/;
        $cmd =~ tr/\0/ /;
        next unless (readlink("/proc/$pid/ns/net") // '') eq $ns;
        open $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // '';
        close $fh;
        next if $stat =~ /^\d+ \(.*\) Z /s;
        my ($ppid) = $stat =~ /^\d+ \(.*\) \S (\d+)/s;
        push @nginx, [$pid, $cmd, $cmd =~ /master process/ ? 1 : 0,
                      $ppid // 0];
    }
    closedir $dh;

    for my $p (@nginx) {
        next unless defined $prefix ? index($p->[1], "$prefix/") >= 0
                                    : $p->[1] =~ m{/kraken-(?:t|deb-nginx)-[^/ ]+/};
        push @found, $p;
        $master{$p->[0]} = 1;
    }

    # the workers of those masters (their command line names no prefix)
    push @found, grep { $master{$_->[3]} && !$master{$_->[0]} } @nginx;

    return @found;
}


# Every nginx this test started is stopped when it ends, however it ends:
# END (a test that died, or never called stop; File::Temp's own END
# removes the prefixes after this one, which runs first), and INT, TERM
# and HUP. Then nothing of this test's prefixes may still run: if
# something does, it is killed and the test fails, naming it.
sub teardown {
    my ($why) = @_;

    for my $k (grep { defined && $_->{started} } values %LIVE) {
        print STDERR "# KrakenTest: $TEST left nginx running on $k->{prefix}"
                     . " ($why): stopping it\n" if $why eq 'END';
        local $@;
        eval { $k->stop };
    }

    kill 'KILL', $NODE if $NODE;

    my @left = map { prefix_nginx($_) } @PREFIXES;
    return 1 unless @left;

    print STDERR "# KrakenTest: $TEST leaves nginx running after its"
                 . " teardown: $_->[0] $_->[1]\n" for @left;
    kill 'KILL', map { $_->[0] } @left;
    return 0;
}

END {
    my $rc = $?;
    my $clean = teardown('END');
    $? = $rc || ($clean ? 0 : 255);
}

for my $sig (qw(INT TERM HUP)) {
    $SIG{$sig} = sub {
        print STDERR "# KrakenTest: SIG$sig, stopping nginx\n";
        teardown($sig);
        $SIG{$sig} = 'DEFAULT';
        kill $sig, $$;
        exit 128;
    };
}


# A node client is a real WebRTC peer (libwebrtc in @roamhq/wrtc, or a
# browser), and libwebrtc sometimes dies by a signal while it tears down.
# Such a death is not a verdict on the server, and must not hide one:
#
#  - the scripts print their JSON summary (every check) before any peer is
#    torn down, so a death after the summary is judged by the summary;
#  - a death before the summary is run again, at most $o{retries} (2) more
#    times against the same server, once the server has forgotten the dead
#    client's peers (its consent timeout, up to $o{settle} seconds); if it
#    keeps dying, node_checks says so plainly: "test client crashed
#    (signal N), not a server verdict".
#
# (exit code, stdout, stderr, run) of `node t/js/$script @args`, with a
# deadline. The exit code is 128 + N after death by signal N, 124 after the
# deadline, and the summary's own (0 passed, 1 failed, 2 could not run)
# when the client died after printing it. run: {attempts, signals (one per
# death), signal (of the run returned, or 0), teardown (1 when it died
# after its summary), timeout}.
sub run_node {
    my ($script, @args) = @_;
    my %o = (timeout => 240, retries => 2, settle => 60);
    if (@args && ref $args[0] eq 'HASH') {
        %o = (%o, %{ shift @args });
    }

    my $name = join ' ', $script, @args;
    my $run = { attempts => 0, signals => [], signal => 0, teardown => 0,
                timeout => 0 };
    my ($url) = grep { m{^http://127\.0\.0\.1:\d+/$} } @args;
    my $peers = $url ? active_peers($url) : undef;
    my ($rc, $out, $err, $sig);

    while (1) {
        $run->{attempts}++;
        ($rc, $out, $err, $sig) = node_once($script, $o{timeout}, @args);
        $run->{timeout} = $rc == 124 && !$sig;
        last unless $sig;

        push @{ $run->{signals} }, $sig;
        my $sum = summary($out);

        if (summary_complete($sum)) {
            $rc = summary_exit($sum);
            $run->{teardown} = 1;
            Test::More::diag("node $name died by signal $sig after printing"
                             . " its summary (a crash in the client's"
                             . " teardown): judged by its summary, exit"
                             . " $rc");
            last;
        }

        if ($run->{attempts} > $o{retries}) {
            Test::More::diag("node $name died by signal $sig before printing"
                             . " its summary, in each of its"
                             . " $run->{attempts} runs: a client crash");
            last;
        }

        Test::More::diag("node $name died by signal $sig before printing"
                         . " its summary (attempt $run->{attempts} of"
                         . " " . ($o{retries} + 1) . "): running it again"
                         . " against the same server"
                         . ($err =~ /\S/
                            ? "; its stderr ended:\n" . tail($err, 8) : ''));

        # the dead client's peers must not count in the next run's checks
        if (defined $peers) {
            my $t = time;
            my $gone = wait_for(sub {
                my $n = active_peers($url);
                defined $n && $n <= $peers;
            }, $o{settle});
            Test::More::diag(sprintf "the server %s the dead client's peers"
                                     . " after %.1f s", $gone ? 'forgot'
                                     : 'still counts', time - $t);
        }
    }

    $run->{signal} = $run->{teardown} ? 0 : $sig;

    return ($rc, $out, $err, $run);
}


# The peers a Kraken server counts as active (info), or undef.
sub active_peers {
    my ($url) = @_;
    my $res = HTTP::Tiny->new(timeout => 5)->request('POST', $url, {
        headers => { 'Content-Type' => 'application/json' },
        content => '{"id":"settle","method":"info","params":[]}' });
    my $info = eval { $JSON->decode($res->{content}) };

    return ref $info eq 'HASH' && ref $info->{data} eq 'HASH'
           ? $info->{data}{active_peers} : undef;
}


# One run of a node script: (exit code, stdout, stderr, signal or 0).
sub node_once {
    my ($script, $timeout, @args) = @_;

    my $dir = tempdir('kraken-node-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', "$dir/out" or die $!;
        open STDERR, '>', "$dir/err" or die $!;
        chdir "$ROOT/t/js" or die $!;
        exec 'node', $script, @args or die "exec node: $!";
    }

    $NODE = $pid;

    my $end = time + $timeout;
    my ($rc, $sig);
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) {
            $sig = $? & 127;
            $rc = $sig ? 128 + $sig : $? >> 8;
            # a shell between us reports death by signal N as 128 + N
            $sig ||= $rc > 128 && $rc <= 128 + 64 ? $rc - 128 : 0;
            last;
        }
        if (time >= $end) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            ($rc, $sig) = (124, 0);
            last;
        }
        sleep 0.1;
    }

    $NODE = undef;

    local $/;
    open my $o, '<', "$dir/out";
    my $out = <$o> // '';
    open my $e, '<', "$dir/err";
    my $err = <$e> // '';

    return ($rc, $out, $err, $sig);
}


# the last line of a node script's stdout that parses as a JSON object
sub summary {
    my ($text) = @_;
    for my $line (reverse split /\n/, $text // '') {
        next unless $line =~ /^\{/;
        my $s = eval { $JSON->decode($line) };
        return $s if ref $s eq 'HASH';
    }
    return undef;
}


# a summary as the scripts print it: {ok, checks: [{name, ok}...]}
sub summary_complete {
    my ($s) = @_;
    return ref $s eq 'HASH' && exists $s->{ok}
           && ref $s->{checks} eq 'ARRAY';
}


# the exit code a summary stands for: 0 passed, 1 failed, 2 could not run
sub summary_exit {
    my ($s) = @_;
    my @checks = @{ $s->{checks} };
    return 0 if $s->{ok} && @checks && !grep { !$_->{ok} } @checks;
    return defined $s->{error} ? 2 : 1;
}


# The signal a node client died of, from run_node's exit code, or 0.
sub node_signal {
    my ($rc) = @_;
    return $rc > 128 && $rc <= 128 + 64 ? $rc - 128 : 0;
}


# What a node client's run says, asserting nothing: {summary (or undef),
# exit (the summary's when the client died after printing it), signal,
# passed, client_crash, failure (a sentence, undef when passed)}.
sub node_verdict {
    my ($rc, $out, $err) = @_;
    my $sum = summary($out);
    my $sig = node_signal($rc);
    my $v = { summary => undef, exit => $rc, signal => $sig, passed => 0,
              client_crash => 0, failure => undef };

    unless (summary_complete($sum)) {
        if ($sig) {
            $v->{client_crash} = 1;
            $v->{failure} = "test client crashed (signal $sig), not a"
                          . " server verdict";
        } elsif ($rc == 124) {
            $v->{failure} = "produced no summary within its deadline"
                          . " (killed, exit 124)";
        } else {
            $v->{failure} = "produced a summary (exit $rc)";
        }
        return $v;
    }

    $v->{summary} = $sum;
    $v->{exit} = summary_exit($sum) if $sig;
    my @bad = grep { !$_->{ok} } @{ $sum->{checks} };

    if ($v->{exit} == 0 && summary_exit($sum) == 0) {
        $v->{passed} = 1;
    } elsif (@bad) {
        $v->{failure} = 'failed checks: '
                      . join '; ', map { $_->{name} } @bad;
    } else {
        $v->{failure} = "exit $v->{exit} with a summary that passed";
    }

    return $v;
}


# each check of a node script becomes one named assertion
sub report_checks {
    my ($s, $min) = @_;
    my @checks = @{ $s->{checks} || [] };
    Test::More::cmp_ok(scalar @checks, '>=', $min,
                       "the script ran its $min checks");
    for my $c (@checks) {
        Test::More::ok($c->{ok}, $c->{name})
            or Test::More::diag($JSON->encode([$c->{detail}]));
    }
}


# the last $n lines of a text
sub tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text // '';
    return join "\n", @l > $n ? @l[-$n .. -1] : @l;
}


# The node scripts' JSON summary line, each check as one Test::More ok(),
# and the exit code as one more (min => N: it ran at least N checks).
# Returns the summary, or undef (after one failed assertion saying why)
# when the client left none: then it either crashed (run_node already ran
# it again) or could not run.
sub node_checks {
    my ($rc, $out, $err, $label, %o) = @_;
    my $v = node_verdict($rc, $out, $err);
    my $sum = $v->{summary};

    unless ($sum) {
        Test::More::fail("$label: $v->{failure}");
        Test::More::diag(tail($err, 40));
        return undef;
    }

    if (defined $o{min}) {
        Test::More::cmp_ok(scalar @{ $sum->{checks} }, '>=', $o{min},
                           "$label ran its $o{min} checks");
    }

    for my $c (@{ $sum->{checks} }) {
        Test::More::ok($c->{ok}, "$label: $c->{name}")
            or Test::More::diag($JSON->encode($c->{detail} // {}));
    }

    Test::More::is($v->{exit}, 0, "$label exits 0")
        or Test::More::diag(tail($err, 40));

    return $sum;
}

1;
