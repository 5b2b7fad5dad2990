#!/usr/bin/perl
# SPDX-License-Identifier: BSD-2-Clause
# Turns the .tsv files that bench/ingest.sh, bench/drain.sh and bench/e2e.sh
# wrote into OUTDIR into one markdown report (stdout): the tables, the
# ratios, the targets, the machine and the command.
#
# Usage: bench/report.pl OUTDIR
use strict;
use warnings;

my $dir = shift or die "usage: $0 OUTDIR\n";

sub rows {
    my ($f) = @_;
    open my $fh, '<', "$dir/$f" or return ();
    my @r = map { chomp; [ split /\t/, $_, -1 ] } <$fh>;
    return @r;
}

sub median {
    my @v = sort { $a <=> $b } grep { defined && $_ ne '' } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub num {    # 155123 -> "155,123"
    my $n = sprintf '%.0f', shift;
    1 while $n =~ s/^(\d+)(\d{3})/$1,$2/;
    return $n;
}

sub ms { my $us = shift; return defined $us ? sprintf('%.2f', $us / 1000) : '' }
sub ratio { my ($a, $b) = @_; return ($a && $b) ? sprintf('%.2fx', $a / $b) : 'n/a' }

my %meta = ((map { $_ => '?' } qw(wrk_threads duration repeat workers hold date cpu
                                   cores mem os kernel nginx redis mariadb node
                                   wrk command load_before load_after)),
            map { $_->[0] => $_->[1] } rows('meta.tsv'));
my $out = '';
sub say { $out .= join('', @_) . "\n" }

# --- ingest -------------------------------------------------------------
my @paths = rows('paths.tsv');
shift @paths if @paths && $paths[0][0] eq 'path';
my %label = map { $_->[0] => $_->[1] } @paths;
my %runs;           # path -> conns -> [runs]
my %conns_seen;
for my $r (rows('ingest.tsv')) {
    my ($p, $c, $rep, $req, $dur, $non2xx, $err, $p50, $p99, $p999, $stored, $per,
        $srv, $rds) = @$r;
    my $tick = 1e6 / ($meta{clk_tck} || 100);
    push @{ $runs{$p}{$c} }, {
        rps => $req / $dur * 1e6, req => $req, non2xx => $non2xx, err => $err,
        p50 => $p50, p99 => $p99, p999 => $p999, stored => $stored, per => $per,
        cpu => defined $srv && $req ? $srv * $tick / $req : undef,
        rcpu => defined $rds && $req ? $rds * $tick / $req : undef,
    };
    $conns_seen{$c} = 1;
}
my @conns = sort { $a <=> $b } keys %conns_seen;
my %med;            # path -> conns -> median req/s
for my $p (keys %runs) {
    for my $c (keys %{ $runs{$p} }) {
        $med{$p}{$c} = median(map { $_->{rps} } @{ $runs{$p}{$c} });
    }
}
my $head = $meta{headline_conns} && $med{ceiling}{ $meta{headline_conns} }
    ? $meta{headline_conns} : $conns[ $#conns / 2 ];

if (@paths) {
    say '### Ingest';
    say '';
    say "wrk $meta{wrk_threads} threads, keep-alive, $meta{duration} s per run, ",
        "median of $meta{repeat} interleaved runs; every server has ",
        "$meta{workers} workers.  *events stored / acked*: what reached Redis ",
        '(or the log file) against the 2xx answers wrk counted, summed over the runs; ',
        'more stored than acked is normal (answers still in flight when wrk stopped), ',
        'fewer means lost events.  *CPU us/req*: CPU time the server\'s workers and ',
        'Redis spent per request (less sensitive to other load on the machine than req/s).';
    say '';
    say '| path | conns | req/s | events/s | p50 ms | p99 ms | p99.9 ms | x ceiling | CPU us/req: server + Redis | events stored / acked |';
    say '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|';
    for my $pr (@paths) {
        my ($p, $label, $kind, undef, undef, $note) = @$pr;
        if ($kind eq 'absent') {
            say "| $label | | absent | | | | | | | $note |";
            next;
        }
        for my $c (@conns) {
            my $rs = $runs{$p}{$c} or next;
            my $per = $rs->[0]{per} || 1;
            my $acked = 0; my $stored = 0; my $bad = 0;
            for (@$rs) {
                $acked += ($_->{req} - $_->{non2xx}) * $per;
                $stored += $_->{stored};
                $bad += $_->{non2xx} + $_->{err};
            }
            my $check;
            if ($p eq 'ceiling') { $check = 'stores nothing' }
            else {
                $check = num($stored) . ' / ' . num($acked);
                $check .= $stored >= $acked ? ' ok' : ' **LOST ' . num($acked - $stored) . '**';
            }
            $check .= " ($bad non-2xx or errors)" if $bad;
            say join(' | ', '', $label, $c, num($med{$p}{$c}), num($med{$p}{$c} * $per),
                ms(median(map { $_->{p50} } @$rs)), ms(median(map { $_->{p99} } @$rs)),
                ms(median(map { $_->{p999} } @$rs)),
                ratio($med{$p}{$c}, $med{ceiling}{$c}),
                sprintf('%.1f + %.1f', median(map { $_->{cpu} // 0 } @$rs),
                        median(map { $_->{rcpu} // 0 } @$rs)),
                $check, '') =~ s/^ //r =~ s/ $//r;
        }
    }
    say '';

    my @ours = grep { $med{$_} } qw(pixel beacon beacon10 async);
    my @peers = grep { $med{$_} } qw(ceiling log lua node);
    if (@ours && @peers) {
        say '**Ratios** (req/s of ours / req/s of the other path, same connections; ',
            'beacon10 counts events/s):';
        say '';
        say '| ours | against | ', join(' | ', map { "c=$_" } @conns), ' |';
        say '|---|---|', join('|', map { '---:' } @conns), '|';
        for my $o (@ours) {
            my $per = $runs{$o}{ $conns[0] }[0]{per} || 1;
            for my $q (@peers) {
                say "| $o | $q | ", join(' | ',
                    map { ratio(($med{$o}{$_} // 0) * $per, $med{$q}{$_}) } @conns), ' |';
            }
        }
        say '';
    }

    say '**Worker memory** (summed RSS of the server\'s worker processes, before the first ',
        'and after the last run):';
    say '';
    say '| path | RSS before | RSS after | |';
    say '|---|---:|---:|---|';
    for my $pr (@paths) {
        my ($p, $label, $kind, $b, $a, $note) = @$pr;
        next if $kind eq 'absent';
        say sprintf '| %s | %.1f MB | %.1f MB | %s |', $label, $b / 1024, $a / 1024, $note // '';
    }
    say '';
}

# --- queue to database --------------------------------------------------
my @drain = rows('drain.tsv');
my %rate;
if (@drain) {
    my %load = map { ($_->[4] // '') => $_->[1] / $_->[2] }
               grep { $_->[0] eq 'load_data' && $_->[2] > 0 } @drain;
    my %what = (
        load_data => 'LOAD DATA LOCAL INFILE (raw rows, no statistics)',
        single    => 'one INSERT per event, autocommit (raw rows)',
    );
    say '### Queue to MariaDB';
    say '';
    if (-s "$dir/consumer-bench.txt") {
        say 'bench/consumer-bench.sh (the consumer\'s own benchmark): a pre-filled Redis ',
            'queue drained by track-consumer into day table rows plus hourly, daily and ',
            'unique-user statistics, exactly once, against LOAD DATA of the same rows and ',
            'one INSERT per event on the same MariaDB.  Profiles: *typical* (Zipf-like ',
            'objects and users), *wide* (nearly every event a new counter and user row).';
    } else {
        say 'The same synthetic events (module format, objects Zipf-like over 10k, ',
            'uids over 100k) into one MariaDB on this machine; the consumer pops a ',
            'pre-filled Redis queue and stores day table rows plus hourly, daily and ',
            'unique-user statistics, exactly once (verified: rows and statistics sums = events).';
    }
    say '';
    say '| what | profile | events | seconds | events/s | x LOAD DATA | verified |';
    say '|---|---|---:|---:|---:|---:|---|';
    for my $r (@drain) {
        my ($w, $n, $s, $v, $prof) = @$r;
        $prof //= '';
        my $label = $what{$w}
            // ($w =~ /^consumer_(\d+)$/ ? "track-consumer x$1 (default 2 lanes each), with statistics" : $w);
        my $r_ = $s > 0 ? $n / $s : 0;
        $rate{$w} = $r_ if $w =~ /^consumer_/ && (!$rate{$w} || $prof eq 'typical' || $prof eq '');
        say "| $label | $prof | ", num($n), " | $s | ", num($r_), ' | ',
            ratio($r_, $load{$prof}), " | $v |";
    }
    my ($lp) = grep { $_ eq 'typical' || $_ eq '' } keys %load;
    $rate{load_data} = $load{ $lp // (keys %load)[0] };
    say '';
}

# --- end to end: one run per request mode (e2e-MODE/), or an older single one
my %mode_label = (pixel => 'pixel GET, 1 event per request',
                  beacon10 => 'beacon POST, 10 events per request');
my @e2e_runs;
for my $sub (map { "e2e-$_" } qw(pixel beacon10)) {
    my @r = rows("$sub/e2e.tsv");
    next unless @r;
    my %c = map { $_->[0] => $_->[1] } rows("$sub/e2e-check.tsv");
    push @e2e_runs, { rows => \@r, chk => \%c,
                      fresh => [ rows("$sub/freshness.tsv") ],
                      cpu => [ rows("$sub/cpu.tsv") ] };
}
if (!@e2e_runs && (my @r = rows('e2e.tsv'))) {
    push @e2e_runs, { rows => \@r,
                      chk => { map { $_->[0] => $_->[1] } rows('e2e-check.tsv') } };
}
for my $run (@e2e_runs) {
    my %chk = %{ $run->{chk} };
    my $mode = $chk{mode} // '?';
    say '### End to end: ', $mode_label{$mode} // $mode;
    say '';
    say "nginx + module, Redis, MariaDB, $chk{consumers} track-consumer and wrk on this ",
        "machine; $mode requests at a fixed offered rate with varying objects and users. ",
        'A rate passes when wrk gets only 2xx at >= 97 % of it and the queue stays flat ',
        '(least-squares slope under 2 % of the rate, growth under one second of traffic).';
    say '';
    say '| phase | offered events/s | achieved | queue slope /s | queue growth | verdict |';
    say '|---|---:|---:|---:|---:|---|';
    for my $r (@{ $run->{rows} }) {
        my ($ph, $off, $ach, $n2, $er, $sl, $gr, $v) = @$r;
        $v .= " ($n2 non-2xx, $er errors)" if $n2 || $er;
        say "| $ph | ", num($off), ' | ', num($ach), " | $sl | $gr | $v |";
    }
    say '';
    my $lost = ($chk{pushed} // 0) - ($chk{stored} // 0);
    say "**Sustained for $meta{hold} s with a flat queue: ", num($chk{held} // 0),
        ' events/s.** Events the module acknowledged: ', num($chk{pushed} // 0),
        '; rows in MariaDB after the drain: ', num($chk{stored} // 0),
        ($lost > 0 ? " (**$lost missing**)" : ' (none lost)'), '.';
    say '';
    if (my @cpu = grep { $_->[0] eq 'hold' } @{ $run->{cpu} || [] }) {
        say 'Where the two cores went during each hold: CPU microseconds per event ',
            'of each part (the rest: wrk, the freshness probes, the kernel\'s other work).';
        say '';
        say '| held rate | achieved | nginx workers | Redis | track-consumer | mariadbd | ',
            'track-stats | the rest | in all | cores busy |';
        say '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
        for my $c (@cpu) {
            my ($ph, $rate, $ach, @us) = @$c;
            say '| ', num($rate), ' | ', num($ach), ' | ', join(' | ', @us), ' | ',
                sprintf('%.2f', $us[-1] * $ach / 1e6), ' |';
        }
        say '';
    }
    next unless @{ $run->{fresh} || [] };
    say 'Statistics freshness during each hold (probe pixels every 200 ms, ',
        'accept -> counted by the stats API):';
    say '';
    say '| held rate | probes | seen | p50 ms | p90 ms | p99 ms | max ms |';
    say '|---:|---:|---:|---:|---:|---:|---:|';
    for my $f (@{ $run->{fresh} }) {
        my (undef, $rate, $probes, undef, $seen, @ms) = @$f;
        say '| ', num($rate), " | $probes | $seen | ", join(' | ', @ms), ' |';
    }
    say '';
}

# --- end to end on a Redis Cluster of 1, 2, 3 shards (scale-N/) -------------
my @scale;
for my $n (1 .. 16) {
    my %c = map { $_->[0] => $_->[1] } rows("scale-$n/e2e-check.tsv");
    push @scale, \%c if %c;
}
if (@scale) {
    my $base = $scale[0]{held} || 0;
    say '### End to end, Redis Cluster: shards and consumers';
    say '';
    say 'As above, with `track_redis_cluster` on a Redis Cluster of N masters on ',
        'loopback (no replicas), N shard lists and N track-consumers of one lane ',
        'each sharing them by lease (`redis_cluster`), ', $scale[0]{mode} // '?',
        ' requests; all on this one machine, so more shards share the same cores.';
    say '';
    say '| shards = consumers | sustained events/s | x 1 shard | acknowledged | stored |';
    say '|---:|---:|---:|---:|---|';
    for my $c (@scale) {
        my $lost = ($c->{pushed} // 0) - ($c->{stored} // 0);
        say "| $c->{shards} | ", num($c->{held} // 0), ' | ',
            ($base ? sprintf('%.2fx', ($c->{held} // 0) / $base) : '-'), ' | ',
            num($c->{pushed} // 0), ' | ',
            ($lost > 0 ? "**$lost missing**" : 'all'), ' |';
    }
    say '';
}

# --- targets ---------------------------------------------------------------
my @t;
if ($med{pixel}{$head} && $med{ceiling}{$head}) {
    my $r = $med{pixel}{$head} / $med{ceiling}{$head};
    push @t, sprintf '| ingest, pixel GET durable >= 0.8x empty_gif (c=%s) | %.2fx | %s |',
        $head, $r, $r >= 0.8 ? 'met' : '**missed**';
}
if (@drain) {
    # the issue's targets: 0.7x LOAD DATA (typical), 0.45x (wide), 30x one
    # INSERT per event
    my %want = (typical => 0.7, wide => 0.45);
    my (%cons, %load, %single);
    for my $r (@drain) {
        my ($w, $n, $sec, undef, $prof) = @$r;
        next unless $sec > 0 && defined $prof;
        $cons{$prof} = $n / $sec if $w =~ /^consumer_/ && $n / $sec > ($cons{$prof} // 0);
        $load{$prof} = $n / $sec if $w eq 'load_data';
        $single{$prof} = $n / $sec if $w eq 'single';
    }
    for my $prof (grep { $cons{$_} && $load{$_} && $want{$_} } sort keys %cons) {
        my $r = $cons{$prof} / $load{$prof};
        push @t, sprintf '| consumer >= %.2fx LOAD DATA (%s) | %.2fx (%s events/s) | %s |',
            $want{$prof}, $prof, $r, num($cons{$prof}), $r >= $want{$prof} ? 'met' : '**missed**';
        next unless $single{$prof};
        my $x = $cons{$prof} / $single{$prof};
        push @t, sprintf '| consumer >= 30x one INSERT per event (%s) | %.1fx | %s |',
            $prof, $x, $x >= 30 ? 'met' : '**missed**';
    }
}
my %e2e_want = (pixel => 50000, beacon10 => 90000);
for my $run (@e2e_runs) {
    my $h = $run->{chk}{held} // 0;
    my $mode = $run->{chk}{mode} // '?';
    my $want = $e2e_want{$mode} // 50000;
    push @t, sprintf '| end to end >= %s events/s, flat queue for %s s (%s) | %s events/s | %s |',
        num($want), $meta{hold}, $mode_label{$mode} // $mode, num($h),
        $h >= $want ? 'met' : '**missed**';
    # freshness at the rate that held (the last hold that passed)
    my ($held) = grep { $_->[1] == $h } @{ $run->{fresh} || [] };
    next unless $held && $h;
    my $p99 = $held->[7];
    push @t, sprintf '| freshness p99 < 1 s at the held rate (%s, %s events/s) | %s ms | %s |',
        $mode, num($h), $p99, $p99 < 1000 ? 'met' : '**missed**';
}
if (@t) {
    say '### Targets';
    say '';
    say '| target | measured | |';
    say '|---|---|---|';
    say($_) for @t;
    say '';
}

# --- machine ---------------------------------------------------------------
say '### Machine and command';
say '';
say "$meta{date}: $meta{cpu}, $meta{cores} cores, $meta{mem} RAM, $meta{os}, ",
    "kernel $meta{kernel}; nginx $meta{nginx}, Redis $meta{redis}, $meta{mariadb}, ",
    "Node.js $meta{node}, $meta{wrk}.  Load generator and servers share the cores. ",
    "Load average before / after: $meta{load_before} / $meta{load_after}",
    ($meta{load_before} =~ /^(\d+\.\d+)/ && $1 > 0.5
        ? ' (**other work was running: figures are lower and noisier than on an idle machine**)' : ''),
    '.';
say '';
say '```sh';
say $meta{command};
say '```';

print $out;
