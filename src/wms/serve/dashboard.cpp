// The dashboard page: one self-contained HTML document (no CDN, no network), reading
// the JSON routes of the same server.
#include "wms/serve/server.hpp"

namespace wms::serve {

const std::string& dashboard_html() {
  static const std::string page = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>wms dashboard</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2329}
header{background:#1d2329;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header h1{font-size:18px;margin:0}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px;padding:16px}
section{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px #0002;overflow:auto}
h2{font-size:15px;margin:0 0 8px}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{text-align:left;padding:4px 6px;border-bottom:1px solid #eee;white-space:nowrap}
.chip{display:inline-block;padding:1px 6px;border-radius:9px;font-size:11px;margin-right:2px;color:#fff}
.success{background:#2e7d32}.failure{background:#c62828}.skipped{background:#9e9e9e}.running{background:#1565c0}
.cancelled{background:#ef6c00}.queued{background:#bbb}
.improved{color:#2e7d32;font-weight:600}.not_improved{color:#ef6c00;font-weight:600}.invalid,.failed{color:#c62828;font-weight:600}
svg{width:100%;height:180px;background:#fafbfc;border-radius:4px}
.muted{color:#777}.row{display:flex;gap:16px;flex-wrap:wrap}
#overlay{max-width:100%;max-height:420px;margin-top:8px;border-radius:4px}
tr.pick{cursor:pointer}tr.pick:hover{background:#eef3ff}
</style></head><body>
<header><h1>wms</h1><span id="ready" class="muted">checking…</span></header>
<main>
<section style="grid-column:1/-1"><h2>Pipeline runs</h2><table id="runs"><thead><tr><th>run</th><th>started</th>
<th>outcome</th><th>jobs</th><th>new / total</th><th>dice</th><th>decision</th></tr></thead><tbody></tbody></table></section>
<section><h2>Training curves <span id="curve-run" class="muted"></span></h2><svg id="curve"></svg>
<div class="muted">val dice (blue), train loss (orange); click a run above or a model below</div></section>
<section><h2>Test Dice of each accepted version</h2><svg id="dice"></svg></section>
<section><h2>Batches</h2><div class="row"><div>share that improved the model: <b id="share">-</b></div>
<div>average improvement per accepted batch: <b id="gain">-</b></div></div><h2 style="margin-top:10px">Compute cost per run</h2><svg id="cost"></svg></section>
<section><h2>Models</h2><table id="models"><thead><tr><th>version</th><th>created</th><th>test dice</th><th>test iou</th>
<th>aliases</th></tr></thead><tbody></tbody></table><h2 style="margin-top:12px">Production history</h2><table id="history"><tbody></tbody></table></section>
<section><h2>Try a photo</h2><input type="file" id="photo" accept="image/jpeg,image/png">
<div id="pred" class="muted"></div><img id="overlay" alt=""></section>
</main>
<script>
const $=s=>document.querySelector(s);
const get=u=>fetch(u).then(r=>r.ok?r.json():Promise.reject(r.status));
const esc=s=>String(s??'').replace(/[&<>"']/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const t=s=>s?new Date(typeof s==='number'?s*1000:s).toISOString().replace('T',' ').slice(0,19):'';
function chart(svg,series,opts={}){
  const W=svg.clientWidth||460,H=svg.clientHeight||180,P=28;svg.setAttribute('viewBox',`0 0 ${W} ${H}`);
  const pts=series.flatMap(s=>s.points);if(!pts.length){svg.innerHTML=`<text x="${W/2}" y="${H/2}" text-anchor="middle" fill="#999">no data yet</text>`;return;}
  let x0=Math.min(...pts.map(p=>p[0])),x1=Math.max(...pts.map(p=>p[0])),y0=opts.y0??Math.min(...pts.map(p=>p[1])),y1=opts.y1??Math.max(...pts.map(p=>p[1]));
  if(x1===x0)x1=x0+1;if(y1===y0)y1=y0+1;const X=x=>P+(x-x0)/(x1-x0)*(W-2*P),Y=y=>H-P+(-(y-y0)/(y1-y0))*(H-2*P);
  let g=`<line x1="${P}" y1="${H-P}" x2="${W-P}" y2="${H-P}" stroke="#ccc"/><text x="4" y="${P}" font-size="10" fill="#777">${(+y1).toFixed(3)}</text><text x="4" y="${H-P}" font-size="10" fill="#777">${(+y0).toFixed(3)}</text>`;
  for(const s of series){const d=s.points.map((p,i)=>(i?'L':'M')+X(p[0]).toFixed(1)+','+Y(p[1]).toFixed(1)).join('');
    if(opts.bars)g+=s.points.map(p=>`<rect x="${X(p[0])-6}" y="${Y(p[1])}" width="12" height="${H-P-Y(p[1])}" fill="${s.color}"/>`).join('');
    else g+=`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`+s.points.map(p=>`<circle cx="${X(p[0])}" cy="${Y(p[1])}" r="3" fill="${s.color}"><title>${p[2]??p[0]}: ${(+p[1]).toFixed(4)}</title></circle>`).join('');}
  svg.innerHTML=g;}
async function curve(runId){
  if(!runId)return;const r=await get('/v1/runs/'+encodeURIComponent(runId));let id=runId,m=r.metrics;
  if(r.kind==='pipeline'&&r.children.length){id=r.children[r.children.length-1].id;m=(await get('/v1/runs/'+encodeURIComponent(id))).metrics;}
  $('#curve-run').textContent=id;const norm=a=>{const mx=Math.max(...a.map(p=>p[1]),1e-9);return a.map(p=>[p[0],p[1]/mx]);};
  chart($('#curve'),[{points:(m.val_dice||[]),color:'#1565c0'},{points:norm(m.train_loss||[]),color:'#ef6c00'}],{y0:0,y1:1});}
async function refresh(){
  get('/readyz').then(j=>$('#ready').textContent='serving model version '+j.model_version).catch(()=>$('#ready').textContent='no production model loaded');
  const [pipes,models,hist,decisions]=await Promise.all([get('/v1/pipelines'),get('/v1/models'),get('/v1/history'),get('/v1/decisions')]);
  $('#runs tbody').innerHTML=pipes.map(p=>{const j=Object.fromEntries(p.jobs.map(x=>[x.name,x]));const v=j['merge-and-validate'].outputs,tr=j.train.outputs;
    return `<tr class="pick" data-run="${esc(p.run_id)}"><td>${esc(p.run_id)}</td><td>${t(p.started)}</td><td class="${esc(p.outcome)}">${esc(p.outcome||'running')}</td><td>${p.jobs.map(x=>`<span class="chip ${esc(x.status)}" title="${esc(x.name)}: ${esc(x.status)} ${esc(x.reason)}">${esc(x.name.split('-')[0])}</span>`).join('')}</td><td>${v.new_images??'-'} / ${v.total_images??'-'}</td><td>${tr.dice!=null?(+tr.dice).toFixed(4):'-'}</td><td class="muted">${esc(tr.reason||j['merge-and-validate'].reason||'')}</td></tr>`;}).join('')||'<tr><td colspan="7" class="muted">no pipeline runs yet</td></tr>';
  document.querySelectorAll('#runs tr.pick').forEach(r=>r.onclick=()=>curve(r.dataset.run));
  $('#models tbody').innerHTML=models.map(m=>`<tr class="pick" data-run="${esc(m.run)}"><td>${m.version}</td><td>${t(m.created)}</td><td>${m.metrics.test_dice!=null?(+m.metrics.test_dice).toFixed(4):'-'}</td><td>${m.metrics.test_iou!=null?(+m.metrics.test_iou).toFixed(4):'-'}</td><td>${esc(m.aliases.join(', '))}</td></tr>`).join('');
  document.querySelectorAll('#models tr.pick').forEach(r=>r.onclick=()=>curve(r.dataset.run));
  $('#history tbody').innerHTML=hist.slice().reverse().map(e=>`<tr><td>${t(e.time)}</td><td>${e.previous??'none'} → <b>${e.version??'none'}</b></td><td>${esc(e.actor)}</td><td class="muted">${esc(e.reason)}</td></tr>`).join('')||'<tr><td class="muted">never promoted</td></tr>';
  const byV=Object.fromEntries(models.map(m=>[m.version,m]));const accepted=[...new Set(hist.map(e=>e.version).filter(v=>v!=null))];
  chart($('#dice'),[{points:accepted.filter(v=>byV[v]&&byV[v].metrics.test_dice!=null).map(v=>[v,byV[v].metrics.test_dice,'version '+v]),color:'#2e7d32'}]);
  const done=pipes.filter(p=>p.outcome==='improved'||p.outcome==='not_improved');const imp=done.filter(p=>p.outcome==='improved');
  $('#share').textContent=done.length?`${imp.length} of ${done.length} (${Math.round(100*imp.length/done.length)}%)`:'-';
  const gains=decisions.filter(d=>d.verdict==='promote'&&d.deltas&&d.deltas.dice!=null).map(d=>d.deltas.dice);
  $('#gain').textContent=gains.length?`${(gains.reduce((a,b)=>a+b,0)/gains.length>=0?'+':'')}${(gains.reduce((a,b)=>a+b,0)/gains.length).toFixed(4)} dice`:'-';
  chart($('#cost'),[{points:pipes.slice().reverse().map((p,i)=>{const s=p.jobs.find(x=>x.name==='stop-infra');return [i+1,(s&&s.outputs.cost)||0,p.run_id];}),color:'#6a1b9a'}],{bars:true,y0:0});
  if(!$('#curve-run').textContent&&pipes.length)curve(pipes[0].run_id);}
$('#photo').onchange=async e=>{const f=e.target.files[0];if(!f)return;$('#pred').textContent='predicting…';
  const type=f.type||'image/jpeg';
  try{const j=await fetch('/v1/predict',{method:'POST',headers:{'Content-Type':type,'Accept':'application/json'},body:f}).then(async r=>{const b=await r.json();if(!r.ok)throw b.error.message;return b;});
    const img=await fetch('/v1/predict?overlay=1',{method:'POST',headers:{'Content-Type':type},body:f}).then(r=>r.blob());
    $('#overlay').src=URL.createObjectURL(img);
    $('#pred').textContent=`model ${j.model_version}: ${j.width}×${j.height}, area ${j.area} px, confidence ${(+j.mean_confidence).toFixed(3)}, ${(+j.timings_ms.total).toFixed(0)} ms`+(j.bbox?`, box ${j.bbox.x},${j.bbox.y} ${j.bbox.w}×${j.bbox.h}`:', nothing found');
  }catch(err){$('#pred').textContent='error: '+err;$('#overlay').removeAttribute('src');}};
refresh();setInterval(refresh,5000);
</script></body></html>
)HTML";
  return page;
}

}  // namespace wms::serve
