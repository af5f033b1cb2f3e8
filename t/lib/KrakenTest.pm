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
use Time::HiRes qw(time sleep);
use Exporter qw(import);

our @EXPORT_OK = qw(summary report_checks tail);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $NGINX = $ENV{KRAKEN_NGINX} || '/usr/sbin/nginx';
our $MODULE = $ENV{KRAKEN_MODULE} || "$ROOT/build/ngx_kraken_module.so";

my $JSON = JSON::PP->new->canonical->allow_nonref;


sub json { $JSON }


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


sub free_port {
    my ($proto, $count) = @_;
    $count //= 1;

    for (1 .. 200) {
        my $base = 20000 + int(rand(30000));
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
    $self->{prefix} = tempdir('kraken-t-XXXXXX', TMPDIR => 1,
                              CLEANUP => !$ENV{KRAKEN_KEEP});
    $self->{port} = free_port('tcp');

    # a reload runs a second generation beside the first: 2 x workers ports
    $self->{media_port} = free_port('udp', 2 * $self->{workers})
        if $self->{media};

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

    if ($self->{media}) {
        $media = "kraken_media_listen 127.0.0.1:$self->{media_port};\n"
               . "    kraken_media_announce 127.0.0.1;\n";
    }

    if ($self->{demo}) {
        $demo = "kraken_demo on;\n            root $ROOT/conf/html;\n"
              . "            index index.html;";
    }

    my $main = $self->{main} // '';
    my $http = $self->{http} // '';
    my $server = $self->{server} // '';
    my $location = $self->{location} // '';

    return <<"EOF";
load_module modules/ngx_kraken_module.so;

worker_processes  $self->{workers};
pid               logs/nginx.pid;
error_log         logs/error.log info;
$main

events {
    worker_connections  1024;
}

http {
    access_log  logs/access.log;

    client_body_temp_path  tmp/body;
    proxy_temp_path        tmp/proxy;
    fastcgi_temp_path      tmp/fastcgi;
    uwsgi_temp_path        tmp/uwsgi;
    scgi_temp_path         tmp/scgi;

    $media
    $http

    server {
        listen  127.0.0.1:$self->{port};

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


sub start {
    my ($self) = @_;
    my $p = $self->{prefix};

    my $out = `$NGINX -p $p/ -e logs/error.log -c conf/nginx.conf 2>&1`;
    die "nginx did not start: $out\n" . $self->error_log if $? != 0;

    my $up = wait_for(sub {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$self->{port}",
                              Proto => 'tcp')
    }, 10);
    die "nginx is not listening\n" . $self->error_log unless $up;

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


sub assert_clean_log {
    my ($self, $name) = @_;
    my @bad = grep { /\[(crit|alert|emerg)\]/ } split /\n/, $self->error_log;
    Test::More::ok(!@bad, $name // 'the error log has no crit, alert or emerg')
        or Test::More::diag(join "\n", @bad);
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
    my $master = $self->master_pid;
    $self->{started} = 0;
    return unless $master;

    kill 'QUIT', $master;
    my $gone = wait_for(sub { !kill(0, $master) }, 10);
    unless ($gone) {
        kill 'KILL', $master, $self->worker_pids;
        wait_for(sub { !kill(0, $master) }, 5);
    }
    return $gone;
}


sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if $self->{started};
}


# (exit code, stdout, stderr) of `node t/js/$script @args`, with a deadline
sub run_node {
    my ($script, @args) = @_;
    my $timeout = 240;
    if (@args && ref $args[0] eq 'HASH') {
        my $o = shift @args;
        $timeout = $o->{timeout} // $timeout;
    }

    my $dir = tempdir('kraken-node-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $pid = fork // die "fork: $!";

    if ($pid == 0) {
        open STDOUT, '>', "$dir/out" or die $!;
        open STDERR, '>', "$dir/err" or die $!;
        chdir "$ROOT/t/js" or die $!;
        exec 'node', $script, @args or die "exec node: $!";
    }

    my $end = time + $timeout;
    my $rc;
    while (1) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) {
            $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
            last;
        }
        if (time >= $end) {
            kill 'KILL', $pid;
            waitpid($pid, 0);
            $rc = 124;
            last;
        }
        sleep 0.1;
    }

    local $/;
    open my $o, '<', "$dir/out";
    my $out = <$o> // '';
    open my $e, '<', "$dir/err";
    my $err = <$e> // '';

    return ($rc, $out, $err);
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


# The node scripts' JSON summary line, each check as one Test::More ok().
sub node_checks {
    my ($rc, $out, $err, $label) = @_;
    my $sum = summary($out);

    unless ($sum && ref $sum->{checks} eq 'ARRAY') {
        Test::More::fail("$label produced a summary (exit $rc)");
        Test::More::diag(substr($err, -3000));
        return undef;
    }

    for my $c (@{ $sum->{checks} }) {
        Test::More::ok($c->{ok}, "$label: $c->{name}")
            or Test::More::diag($JSON->encode($c->{detail} // {}));
    }

    Test::More::is($rc, 0, "$label exits 0")
        or Test::More::diag(substr($err, -3000));

    return $sum;
}

1;
