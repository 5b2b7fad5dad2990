/* SPDX-License-Identifier: BSD-2-Clause */
// charts.js: the dashboard's Chart.js charts (Chart is the global of
// Debian's chart.min.js), made once per canvas and updated in place so that
// live refreshes do not flicker.

const charts = {};

const look = {
    line: { borderColor: '#2563eb', backgroundColor: 'rgba(37,99,235,.15)',
            fill: true, tension: 0.2, pointRadius: 3 },
    bar: { backgroundColor: '#0d9488', maxBarThickness: 48 },
};

// an hour label (YYYY-MM-DDTHH) as "HHh", with its date under 00h
function tick(value) {
    const label = this.getLabelForValue(value);
    const m = /^(\d{4}-\d\d-\d\d)T(\d\d)$/.exec(label);
    if (!m) return label;
    return m[2] === '00' ? [`${m[2]}h`, m[1]] : `${m[2]}h`;
}

function make(id, type, label, horizontal) {
    return new Chart(document.getElementById(id), {
        type,
        data: { labels: [], datasets: [Object.assign({ label, data: [] }, look[type])] },
        options: {
            responsive: true,
            maintainAspectRatio: false,
            animation: false,
            indexAxis: horizontal ? 'y' : 'x',
            plugins: { legend: { display: false } },
            scales: {
                [horizontal ? 'x' : 'y']: { beginAtZero: true, ticks: { precision: 0 } },
                [horizontal ? 'y' : 'x']: { ticks: { callback: tick } },
            },
        },
    });
}

// draw('series-chart', 'line', 'events', labels, values[, horizontal])
export function draw(id, type, label, labels, values, horizontal = false) {
    const c = charts[id] || (charts[id] = make(id, type, label, horizontal));
    c.data.labels = labels;
    c.data.datasets[0].data = values;
    c.update();
}
